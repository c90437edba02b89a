#!/usr/bin/env python3
"""Measure small Ollama chat models as Genesis planning agents (structured JSON output).

For each model: cold load time, then representative planning prompts sent to /api/chat with
stream=false and `format` = a JSON schema, temperature 0.2, num_ctx 4096, fixed seed. Records
whether each reply parses as JSON, validates against the schema that was sent, and is sensible
(values inside the bounds stated in the prompt, right number of candidates, the obvious decision
where there is one), plus latency and generation speed. Then times a ~1500-token prompt.

Two variants of each schema are sent:
  types   - only types/enums/required (bounds are stated in the prompt text only);
  bounded - the same plus minimum/maximum/minItems/maxItems, to see what the constrained
            decoder enforces by itself.

Standard library only; uses `jsonschema` for validation when it is installed (a small built-in
validator otherwise).

Usage:
  python3 deploy/ollama/measure.py [--host 127.0.0.1:11434] [--models gemma3:270m,smollm2:135m]
                                   [--json results.json] [--show N] [--speed]
  --speed: only a one-minute speed probe (cold load, generation tok/s, ~1500-token prompt eval).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
import urllib.error
import urllib.request

try:
    import jsonschema  # type: ignore
except ImportError:  # pragma: no cover
    jsonschema = None

OPTIONS = {"temperature": 0.2, "num_ctx": 4096, "seed": 42, "num_predict": 320}

SYSTEM = (
    "You are the planning agent of Genesis, a closed-loop science platform that runs lab "
    "experiments. Read the campaign state and answer with a single JSON object only."
)

# ----------------------------------------------------------------------------------------------
# schemas
# ----------------------------------------------------------------------------------------------
DECISION_TYPES = {
    "type": "object",
    "properties": {
        "decision": {"type": "string", "enum": ["explore", "exploit", "stop"]},
        "n_lab_runs": {"type": "integer"},
        "rationale": {"type": "string"},
    },
    "required": ["decision", "n_lab_runs", "rationale"],
}

CAND_ITEM_TYPES = {
    "type": "object",
    "properties": {
        "n": {"type": "number"},
        "theta": {"type": "number"},
        "r": {"type": "number"},
        "t": {"type": "number"},
    },
    "required": ["n", "theta", "r", "t"],
}
CANDIDATES_TYPES = {
    "type": "object",
    "properties": {"candidates": {"type": "array", "items": CAND_ITEM_TYPES}},
    "required": ["candidates"],
}

# Parameter space of the candidate prompts (stated in the prompt text).
BOUNDS = {"n": (1.30, 2.50), "theta": (0.0, 60.0), "r": (5.0, 50.0), "t": (10.0, 200.0)}


def decision_bounded(lo: int, hi: int) -> dict:
    s = json.loads(json.dumps(DECISION_TYPES))
    s["properties"]["n_lab_runs"].update({"minimum": 0, "maximum": hi})  # 0 = stop
    return s


def candidates_bounded(k: int) -> dict:
    s = json.loads(json.dumps(CANDIDATES_TYPES))
    item = s["properties"]["candidates"]["items"]
    for key, (lo, hi) in BOUNDS.items():
        item["properties"][key].update({"minimum": lo, "maximum": hi})
    s["properties"]["candidates"].update({"minItems": k, "maxItems": k})
    return s


# ----------------------------------------------------------------------------------------------
# prompts
# ----------------------------------------------------------------------------------------------
def history_table(rows: list[tuple]) -> str:
    lines = ["run | temperature_C | catalyst_mol_pct | yield"]
    lines += [f"{i + 1} | {t:.1f} | {c:.2f} | {y:.3f}" for i, (t, c, y) in enumerate(rows)]
    return "\n".join(lines)


def rows(n: int, seed: int, plateau: float | None = None) -> list[tuple]:
    rng = random.Random(seed)
    out, best = [], 0.2
    for i in range(n):
        t, c = rng.uniform(40, 120), rng.uniform(0.5, 5.0)
        y = min(0.99, best + rng.uniform(-0.1, 0.08)) if plateau is None or i < n - 10 else plateau + rng.uniform(-0.01, 0.005)
        best = max(best, y)
        out.append((t, c, max(0.0, y)))
    return out


def decision_prompt(done: int, budget: int, lo: int, hi: int, situation: str, hist: list[tuple]) -> str:
    return (
        f"Campaign: maximise the yield of a Suzuki coupling.\n"
        f"Lab runs used: {done} of a budget of {budget} (remaining: {budget - done}).\n"
        f"Past runs:\n{history_table(hist)}\n\n"
        f"Situation: {situation}\n\n"
        "Decide the next step. Reply with JSON fields: decision (one of explore, exploit, stop), "
        f"n_lab_runs (integer, how many lab runs to schedule next: between {lo} and {hi}; 0 only when "
        "the decision is stop), rationale (one short sentence)."
    )


def candidates_prompt(k: int, tested: list[dict], goal: str) -> str:
    b = BOUNDS
    tested_s = "\n".join(f"- n={p['n']}, theta={p['theta']}, r={p['r']}, t={p['t']}" for p in tested)
    return (
        f"Campaign: {goal}\n"
        "Design variables and their allowed ranges:\n"
        f"- n: refractive index of the coating, {b['n'][0]} to {b['n'][1]}\n"
        f"- theta: deposition angle in degrees, {b['theta'][0]:g} to {b['theta'][1]:g}\n"
        f"- r: nanoparticle radius in nm, {b['r'][0]:g} to {b['r'][1]:g}\n"
        f"- t: film thickness in nm, {b['t'][0]:g} to {b['t'][1]:g}\n"
        f"Already tested (do not repeat):\n{tested_s}\n\n"
        f"Propose exactly {k} new candidates, each inside the allowed ranges. Reply with JSON: "
        '{"candidates": [{"n": ..., "theta": ..., "r": ..., "t": ...}, ...]}'
    )


def build_cases() -> list[dict]:
    cases = []
    # decision prompts: (done, budget, lo, hi, situation, history, acceptable decisions)
    dec = [
        (4, 40, 1, 8, "The campaign just started; the surrogate model is very uncertain everywhere.",
         rows(4, 1), {"explore"}),
        (12, 50, 1, 6, "Yield improves steadily; large unexplored regions remain at high temperature.",
         rows(12, 2), {"explore", "exploit"}),
        (26, 50, 1, 6, "A promising region (temperature 95-105 C, catalyst 2-3 mol%) keeps giving the best yields.",
         rows(26, 3), {"exploit"}),
        (38, 40, 1, 2, "The best yield has not improved for the last 10 runs; only 2 runs remain.",
         rows(38, 4, plateau=0.81), {"exploit", "stop"}),
        (40, 40, 0, 0, "The budget is fully used: no lab runs remain.",
         rows(40, 5, plateau=0.84), {"stop"}),
        (17, 60, 1, 8, "The best yield is 0.97, above the target of 0.95 set for this campaign.",
         rows(16, 6) + [(101.0, 2.4, 0.97)], {"stop"}),
    ]
    for i, (done, budget, lo, hi, sit, hist, ok) in enumerate(dec):
        cases.append({
            "id": f"decision-{i + 1}", "kind": "decision",
            "prompt": decision_prompt(done, budget, lo, hi, sit, hist),
            "schema_types": DECISION_TYPES, "schema_bounded": decision_bounded(lo, hi),
            "lo": lo, "hi": hi, "expect": ok,
        })
    rng = random.Random(7)

    def pt():
        return {k: round(rng.uniform(*v), 2) for k, v in BOUNDS.items()}

    cand = [
        (3, [pt() for _ in range(3)], "maximise the reflectance of an anti-glare coating at 550 nm."),
        (4, [pt() for _ in range(6)], "minimise the haze of a nanoparticle film while keeping it above 80% transmittance."),
        (2, [pt() for _ in range(2)], "maximise the photocatalytic activity of a TiO2 film."),
        (5, [pt() for _ in range(8)], "map the colour of a structural-colour coating across the design space."),
    ]
    for i, (k, tested, goal) in enumerate(cand):
        cases.append({
            "id": f"candidates-{i + 1}", "kind": "candidates",
            "prompt": candidates_prompt(k, tested, goal),
            "schema_types": CANDIDATES_TYPES, "schema_bounded": candidates_bounded(k),
            "k": k, "tested": tested,
        })
    return cases


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------
def _mini_validate(x, s, path="$") -> list[str]:
    errs = []
    t = s.get("type")
    typ = {"object": dict, "array": list, "string": str, "boolean": bool}
    if t == "integer":
        if not (isinstance(x, int) and not isinstance(x, bool)):
            return [f"{path}: not an integer"]
    elif t == "number":
        if not (isinstance(x, (int, float)) and not isinstance(x, bool)):
            return [f"{path}: not a number"]
    elif t in typ and not isinstance(x, typ[t]):
        return [f"{path}: not {t}"]
    if "enum" in s and x not in s["enum"]:
        errs.append(f"{path}: {x!r} not in enum")
    if "minimum" in s and x < s["minimum"]:
        errs.append(f"{path}: {x} < {s['minimum']}")
    if "maximum" in s and x > s["maximum"]:
        errs.append(f"{path}: {x} > {s['maximum']}")
    if t == "object":
        for r in s.get("required", []):
            if r not in x:
                errs.append(f"{path}: missing {r}")
        for k, sub in s.get("properties", {}).items():
            if k in x:
                errs += _mini_validate(x[k], sub, f"{path}.{k}")
    if t == "array":
        if "minItems" in s and len(x) < s["minItems"]:
            errs.append(f"{path}: {len(x)} items < {s['minItems']}")
        if "maxItems" in s and len(x) > s["maxItems"]:
            errs.append(f"{path}: {len(x)} items > {s['maxItems']}")
        for i, item in enumerate(x):
            errs += _mini_validate(item, s.get("items", {}), f"{path}[{i}]")
    return errs


def validate(x, schema) -> list[str]:
    if jsonschema is not None:
        v = jsonschema.Draft202012Validator(schema)
        return [f"{'/'.join(map(str, e.path)) or '$'}: {e.message}" for e in v.iter_errors(x)]
    return _mini_validate(x, schema)


def sensible(case: dict, x) -> tuple[bool, bool | None, list[str]]:
    """-> (values inside the prompt's bounds, obvious decision right (None: n/a), problems)."""
    probs: list[str] = []
    if not validate(x, case["schema_types"]) == []:
        return False, (False if case["kind"] == "decision" else None), ["not schema-valid"]
    if case["kind"] == "decision":
        n, d = x["n_lab_runs"], x["decision"]
        lo = 0 if d == "stop" else case["lo"]
        hi = 0 if d == "stop" else case["hi"]
        if not lo <= n <= hi:
            probs.append(f"n_lab_runs={n} outside [{lo},{hi}] for {d}")
        if not x["rationale"].strip():
            probs.append("empty rationale")
        right = d in case["expect"]
        if not right:
            probs.append(f"decision {d}, expected {'/'.join(sorted(case['expect']))}")
        return (not any("outside" in p or "empty" in p for p in probs)), right, probs
    cands = x["candidates"]
    if len(cands) != case["k"]:
        probs.append(f"{len(cands)} candidates, asked for {case['k']}")
    for i, c in enumerate(cands):
        for key, (lo, hi) in BOUNDS.items():
            if not lo <= c[key] <= hi:
                probs.append(f"[{i}].{key}={c[key]} outside [{lo:g},{hi:g}]")
        if any(all(abs(c[k] - p[k]) < 1e-9 for k in BOUNDS) for p in case["tested"]):
            probs.append(f"[{i}] repeats a tested point")
    keys = {tuple(c[k] for k in BOUNDS) for c in cands}
    if len(keys) < len(cands):
        probs.append("duplicate candidates")
    return not probs, None, probs


# ----------------------------------------------------------------------------------------------
# ollama
# ----------------------------------------------------------------------------------------------
class Ollama:
    def __init__(self, host: str):
        if not host.startswith("http"):
            host = "http://" + host
        self.url = host.rstrip("/")

    def post(self, path: str, body: dict, timeout: float = 600) -> dict:
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"POST {path}: HTTP {e.code}: {e.read()[:300]!r}") from None

    def unload(self, model: str) -> None:
        self.post("/api/generate", {"model": model, "keep_alive": 0})

    def load(self, model: str) -> tuple[float, float]:
        """cold load: -> (load_duration s reported by Ollama, wall s)"""
        t0 = time.perf_counter()
        r = self.post("/api/generate", {"model": model, "prompt": "Hi", "stream": False,
                                        "options": dict(OPTIONS, num_predict=1)})
        return r.get("load_duration", 0) / 1e9, time.perf_counter() - t0

    def chat(self, model: str, prompt: str, schema: dict | None) -> tuple[dict, float]:
        body = {
            "model": model, "stream": False, "options": OPTIONS,
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
        }
        if schema is not None:
            body["format"] = schema
        t0 = time.perf_counter()
        r = self.post("/api/chat", body)
        return r, time.perf_counter() - t0


def long_prompt(nonce: int) -> str:
    hist = rows(75, 100 + nonce)
    return (
        f"Campaign {nonce}: maximise the yield of a Suzuki coupling. Lab runs used: 75 of 120.\n"
        f"Past runs:\n{history_table(hist)}\n\n"
        "Notes from the chemists: the reaction is sensitive to oxygen; runs above 110 C show "
        "decomposition of the boronic acid; catalyst above 4 mol% gives palladium black. "
        "The surrogate model is a Gaussian process with a Matern 5/2 kernel, refitted after each batch.\n\n"
        "Decide the next step. Reply with JSON fields: decision (explore, exploit or stop), "
        "n_lab_runs (integer between 1 and 8, or 0 to stop), rationale (one short sentence)."
    )


def speed_only(api: Ollama, model: str) -> dict:
    """Quick speed probe (about a minute per model on a quiet machine): cold load, generation
    speed on a fixed 64-token schema-constrained reply, prompt-eval speed on the ~1500-token prompt."""
    api.unload(model)
    load_s, load_wall = api.load(model)
    gen = []
    for i in range(3):
        body_prompt = decision_prompt(4 + i, 40, 1, 8, "The campaign just started.", rows(4 + i, 50 + i))
        old = OPTIONS["num_predict"]
        OPTIONS["num_predict"] = 64
        try:
            r, wall = api.chat(model, body_prompt, DECISION_TYPES)
        finally:
            OPTIONS["num_predict"] = old
        if r.get("eval_duration"):
            gen.append((r["eval_count"] / (r["eval_duration"] / 1e9), wall))
    longs = []
    for nonce in (11, 12, 13):
        r, wall = api.chat(model, long_prompt(nonce), DECISION_TYPES)
        if r.get("prompt_eval_duration"):
            longs.append((r["prompt_eval_count"], r["prompt_eval_count"] / (r["prompt_eval_duration"] / 1e9), wall))
    out = {"model": model, "load_wall_s": load_wall,
           "gen_tok_s": statistics.median(g[0] for g in gen) if gen else 0.0,
           "short_wall_s": statistics.median(g[1] for g in gen) if gen else 0.0,
           "long_prompt_tokens": statistics.median(x[0] for x in longs) if longs else 0,
           "prompt_tok_s": statistics.median(x[1] for x in longs) if longs else 0.0,
           "long_wall_s": statistics.median(x[2] for x in longs) if longs else 0.0}
    print(f"{model}: cold load {load_wall:.2f} s; generation {out['gen_tok_s']:.1f} tok/s "
          f"(64-token reply in {out['short_wall_s']:.1f} s); {out['long_prompt_tokens']:.0f}-token prompt: "
          f"{out['prompt_tok_s']:.0f} tok/s prompt eval, {out['long_wall_s']:.1f} s with reply", flush=True)
    return out


def pct(xs) -> str:
    xs = list(xs)
    return f"{100 * sum(xs) / len(xs):.0f}%" if xs else "-"


def measure_model(api: Ollama, model: str, cases: list[dict], show: int) -> dict:
    print(f"\n=== {model}", flush=True)
    api.unload(model)
    load_s, load_wall = api.load(model)
    print(f"cold load: load_duration {load_s:.2f} s (wall {load_wall:.2f} s)", flush=True)
    res = {"model": model, "load_s": load_s, "load_wall_s": load_wall, "loadavg_start": os.getloadavg()[0], "variants": {}}
    for variant in ("types", "bounded"):
        recs = []
        for case in cases:
            schema = case["schema_" + variant]
            try:
                r, wall = api.chat(model, case["prompt"], schema)
            except (RuntimeError, OSError) as e:  # e.g. HTTP 500 "model runner has unexpectedly stopped"
                r, wall = {"done": True, "done_reason": f"error: {e}"}, float("nan")
                print(f"[{variant:7}] {case['id']:13} ERROR {e}", flush=True)
            content = r.get("message", {}).get("content", "")
            rec = {"id": case["id"], "kind": case["kind"], "wall_s": wall,
                   "eval_count": r.get("eval_count", 0), "eval_ns": r.get("eval_duration", 0),
                   "prompt_count": r.get("prompt_eval_count", 0), "prompt_ns": r.get("prompt_eval_duration", 0),
                   # no done/done_reason: Ollama cut the reply silently (30 repeats of one token)
                   "done_reason": r.get("done_reason") if r.get("done") else "aborted", "content": content}
            try:
                x = json.loads(content)
                rec["parsed"] = True
            except json.JSONDecodeError:
                x, rec["parsed"] = None, False
            rec["schema_errors"] = validate(x, schema) if rec["parsed"] else ["not JSON"]
            rec["valid"] = rec["parsed"] and not rec["schema_errors"]
            if rec["parsed"]:
                rec["in_bounds"], rec["decision_ok"], rec["problems"] = sensible(case, x)
            else:
                rec["in_bounds"], rec["decision_ok"], rec["problems"] = False, (False if case["kind"] == "decision" else None), ["not JSON"]
            tps = rec["eval_count"] / (rec["eval_ns"] / 1e9) if rec["eval_ns"] else 0.0
            rec["tok_s"] = tps
            print(f"[{variant:7}] {case['id']:13} {wall:5.2f}s {rec['eval_count']:4d} tok {tps:6.1f} tok/s "
                  f"json={'y' if rec['parsed'] else 'n'} valid={'y' if rec['valid'] else 'n'} "
                  f"sensible={'y' if rec['in_bounds'] else 'n'} "
                  f"{'; '.join(rec['problems'][:3])}"
                  + ("" if rec["parsed"] else f" | done_reason={rec['done_reason']} content={content[:80]!r}"), flush=True)
            recs.append(rec)
        dec = [r for r in recs if r["kind"] == "decision"]
        res["variants"][variant] = {
            "n": len(recs),
            "json": sum(r["parsed"] for r in recs) / len(recs),
            "valid": sum(r["valid"] for r in recs) / len(recs),
            "in_bounds": sum(r["in_bounds"] for r in recs) / len(recs),
            "decision_ok": f"{sum(bool(r['decision_ok']) for r in dec)}/{sum(r['parsed'] for r in dec)}",  # among parsed
            "median_wall_s": _median(r["wall_s"] for r in recs if r["wall_s"] == r["wall_s"]),
            "median_tok_s": _median(r["tok_s"] for r in recs if r["tok_s"]),
            "median_eval_count": statistics.median(r["eval_count"] for r in recs),
            "cut": f"{sum(r['done_reason'] == 'length' for r in recs)}/{sum(r['done_reason'] == 'aborted' for r in recs)}"
                   + (f" (+{n_err} HTTP errors)" if (n_err := sum(str(r['done_reason']).startswith('error') for r in recs)) else ""),
            "records": recs,
        }
        for r in recs[:show]:
            print(f"  sample {r['id']}: {r['content'][:300]}")
    # long prompt: ~1500 tokens, distinct prefixes so no prompt cache is reused
    longs = []
    for nonce in (1, 2, 3):
        try:
            r, wall = api.chat(model, long_prompt(nonce), DECISION_TYPES)
        except (RuntimeError, OSError) as e:
            print(f"[long   ] ERROR {e}", flush=True)
            continue
        pc, pns = r.get("prompt_eval_count", 0), r.get("prompt_eval_duration", 0)
        longs.append({"prompt_tokens": pc, "prompt_tok_s": pc / (pns / 1e9) if pns else 0.0,
                      "wall_s": wall, "eval_count": r.get("eval_count", 0),
                      "valid": not validate(_try_json(r.get("message", {}).get("content", "")), DECISION_TYPES)})
        print(f"[long   ] prompt {pc} tok, {longs[-1]['prompt_tok_s']:.0f} tok/s prompt eval, wall {wall:.2f}s", flush=True)
    if not longs:
        longs = [{"prompt_tokens": 0, "prompt_tok_s": 0.0, "wall_s": float("nan"), "valid": False}]
    res["long"] = {
        "prompt_tokens": statistics.median(x["prompt_tokens"] for x in longs),
        "prompt_tok_s": statistics.median(x["prompt_tok_s"] for x in longs),
        "wall_s": statistics.median(x["wall_s"] for x in longs),
        "valid": sum(x["valid"] for x in longs) / len(longs),
    }
    return res


def _median(xs) -> float:
    xs = list(xs)
    return statistics.median(xs) if xs else float("nan")


def _try_json(s: str):
    try:
        return json.loads(s)
    except json.JSONDecodeError:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default=os.environ.get("OLLAMA_HOST", "127.0.0.1:11434"))
    ap.add_argument("--models", default="gemma3:270m,smollm2:135m")
    ap.add_argument("--json", help="write all records to this file")
    ap.add_argument("--show", type=int, default=0, help="print the first N raw replies per variant")
    ap.add_argument("--speed", action="store_true", help="only the quick speed probe (load, tok/s, long prompt)")
    a = ap.parse_args()
    api = Ollama(a.host)
    if a.speed:
        print(f"load average {os.getloadavg()[0]:.2f}")
        res = [speed_only(api, m.strip()) for m in a.models.split(",") if m.strip()]
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
        if a.json:
            with open(a.json, "w") as f:
                json.dump(res, f, indent=1)
        return 0
    cases = build_cases()
    print(f"validator: {'jsonschema ' + __import__('importlib.metadata').metadata.version('jsonschema') if jsonschema else 'built-in'}; "
          f"load average {os.getloadavg()[0]:.2f}; {len(cases)} prompts x 2 schema variants per model")
    results = [measure_model(api, m.strip(), cases, a.show) for m in a.models.split(",") if m.strip()]

    print("\n| model | schema sent | JSON parses | schema-valid | values sensible | obvious decision right "
          "| cut: num_predict / repeat abort | median latency | median gen tok/s | cold load |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for v, s in r["variants"].items():
            print(f"| {r['model']} | {v} | {s['json']:.0%} | {s['valid']:.0%} | {s['in_bounds']:.0%} | {s['decision_ok']} "
                  f"| {s['cut']} | {s['median_wall_s']:.1f} s | {s['median_tok_s']:.0f} | {r['load_wall_s']:.2f} s |")
    print("\n| model | long prompt tokens | prompt eval tok/s | latency (incl. reply) | reply schema-valid |")
    print("|---|---|---|---|---|")
    for r in results:
        lg = r["long"]
        print(f"| {r['model']} | {lg['prompt_tokens']:.0f} | {lg['prompt_tok_s']:.0f} | {lg['wall_s']:.2f} s | {lg['valid']:.0%} |")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, default=list)
    return 0


if __name__ == "__main__":
    sys.exit(main())
