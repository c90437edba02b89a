package agents

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/genesis-sci/genesis/challenges"
	"github.com/genesis-sci/genesis/prompts"
)

// How prompts are laid out, and why. A local model spends most of a call
// re-reading its prompt (on two cores smollm2:135m evaluates about 220
// prompt tokens a second and writes 60), and the server keeps the last
// sequence it ran: the next call re-evaluates only what follows the prefix
// it shares with that. So every call of a campaign renders the same text
// for as long as possible:
//
//  1. the system message is the same for every call of a campaign: the
//     team, the challenge, the design space, the reply format, every tool;
//  2. the user message starts with the campaign's state as the iteration
//     began (lab results oldest first, so an iteration appends rows), and
//     the team's memory recalled for the iteration;
//  3. then what the iteration has produced so far, in the order the roles
//     produce it: plan, optimiser suggestions, candidates, simulations, lab
//     results, outcome. Each role sees all of it, so the next role's prompt
//     extends the previous one's;
//  4. last, the role's own task and answer format, then the tool results
//     and repair notes of its turn.
//
// Only (3)'s new part and (4) are evaluated anew on each call.

// Prompt budgets, in tokens (estimated at four bytes a token).
const (
	// memoryTokens caps the recalled memories a prompt holds; one memory
	// is cut at memoryItemTokens.
	memoryTokens     = 160
	memoryItemTokens = 60
	recallK          = 4
	// maxRows is how many lab results the state lists; a longer campaign
	// lists its best maxRows/3 earlier results and the latest ones.
	maxRows = 24
)

// PromptData is what the templates see.
type PromptData struct {
	Role      string
	Challenge ChallengeView
	Brief     BriefView
	Limits    Limits
	// Tools are every tool of the campaign (the system message describes
	// them once); Allowed names those this step may call.
	Tools   []ToolView
	Allowed []string
	// Memory is what the team recalled for this iteration.
	Memory []string
	// Answer describes the role's answer: its fields, their bounds and
	// what each should say.
	Answer, AnswerNote string
	Observations       []Observation
	Repair             string
}

// ToolView describes a tool in a prompt.
type ToolView struct{ Name, Description, Schema string }

// ResultView is a Result rendered for a prompt. Label names it: the
// candidate it measured ("candidate 2"), or its point.
type ResultView struct {
	Label     string
	Point     string
	Iteration int
	Value     float64
	Note      string
}

// CandidateView is a Candidate rendered for a prompt.
type CandidateView struct{ Point, Source, Note string }

// OutcomeView is an Outcome rendered for a prompt.
type OutcomeView struct {
	Best     *ResultView
	Improved bool
	Stale    int
}

// BriefView is a Brief rendered for a prompt.
type BriefView struct {
	Brief
	// Rows are the lab results so far, oldest first, one short line each;
	// Omitted counts those left out of a long campaign's list.
	Rows        []string
	Omitted     int
	Best        *ResultView
	Plan        *Plan
	Suggestions []CandidateView
	Candidates  []CandidateView
	SimResults  []ResultView
	LabResults  []ResultView
	Outcome     *OutcomeView
}

// RenderPrompt renders the system and user messages for a step.
func RenderPrompt(c *challenges.Challenge, in StepInput, memories []string) (system, user string, err error) {
	d := PromptData{Role: in.Role, Challenge: NewChallengeView(c), Limits: in.Limits, Memory: memories,
		Observations: in.Observations, Repair: in.Repair}
	for _, n := range []string{ToolOptimizerSuggest, ToolDatasetQuery, ToolMemoryRecall} {
		if n == ToolOptimizerSuggest && in.NoOptimizer {
			continue
		}
		t := ToolSpecs[n]
		d.Tools = append(d.Tools, ToolView{Name: t.Name, Description: t.Description, Schema: compactSchema(t.Schema)})
	}
	for _, t := range in.tools() {
		d.Allowed = append(d.Allowed, t.Name)
	}
	d.Brief = viewBrief(c, in.Brief)
	a := answerOf(c, in)
	d.Answer, d.AnswerNote = a.format, a.note
	if system, err = prompts.Render("system.tmpl", d); err != nil {
		return "", "", err
	}
	user, err = prompts.Render(in.Role+".tmpl", d)
	return system, user, err
}

// row renders a point as its values in parameter order ("12, 50, 2.5, 1.4"),
// the short form the state's table uses.
func row(c *challenges.Challenge, p challenges.Point) string {
	parts := make([]string, len(c.Parameters))
	for i, prm := range c.Parameters {
		if i >= len(p) {
			parts[i] = "?"
			continue
		}
		switch prm.Kind {
		case challenges.Categorical:
			parts[i] = fmt.Sprint(c.Map(p)[prm.Name])
		case challenges.Discrete, challenges.Integer:
			parts[i] = strconv.FormatFloat(p[i], 'g', -1, 64)
		default:
			parts[i] = strconv.FormatFloat(p[i], 'g', 4, 64)
		}
	}
	return strings.Join(parts, ", ")
}

func viewBrief(c *challenges.Challenge, b Brief) BriefView {
	v := BriefView{Brief: b, Plan: b.Plan}
	value := func(r Result) float64 {
		if len(r.Values) == 0 {
			return math.NaN()
		}
		return r.Values[0]
	}
	label := func(r Result) string {
		for i, x := range b.Candidates {
			if slices.Equal(x.Point, r.Point) {
				return fmt.Sprintf("candidate %d", i+1)
			}
		}
		return row(c, r.Point)
	}
	rv := func(r Result) *ResultView {
		return &ResultView{Label: label(r), Point: PointJSON(c, r.Point), Iteration: r.Iteration, Value: value(r), Note: r.Note}
	}
	if b.Best != nil {
		v.Best = rv(*b.Best)
	}
	shown := b.Recent
	if len(shown) > maxRows {
		// The best earlier results, in order, then the latest.
		head, tail := shown[:len(shown)-2*maxRows/3], shown[len(shown)-2*maxRows/3:]
		keep := make([]bool, len(head))
		for range maxRows / 3 {
			bi := -1
			for i, r := range head {
				if !keep[i] && len(r.Values) > 0 && (bi < 0 || c.Score(r.Values) > c.Score(head[bi].Values)) {
					bi = i
				}
			}
			if bi >= 0 {
				keep[bi] = true
			}
		}
		shown = nil
		for i, r := range head {
			if keep[i] {
				shown = append(shown, r)
			}
		}
		v.Omitted = len(b.Recent) - len(shown) - len(tail)
		shown = append(shown, tail...)
	}
	for _, r := range shown {
		v.Rows = append(v.Rows, fmt.Sprintf("it%d: %s -> %.4g", r.Iteration, row(c, r.Point), value(r)))
	}
	for _, x := range b.Suggestions {
		v.Suggestions = append(v.Suggestions, CandidateView{Point: PointJSON(c, x.Point), Source: x.Source, Note: x.Note})
	}
	for _, x := range b.Candidates {
		v.Candidates = append(v.Candidates, CandidateView{Point: row(c, x.Point), Source: x.Source, Note: x.Note})
	}
	for _, r := range b.SimResults {
		v.SimResults = append(v.SimResults, *rv(r))
	}
	for _, r := range b.LabResults {
		v.LabResults = append(v.LabResults, *rv(r))
	}
	if o := b.Outcome; o != nil {
		v.Outcome = &OutcomeView{Improved: o.Improved, Stale: o.Stale}
		if o.Best != nil {
			v.Outcome.Best = rv(*o.Best)
		}
	}
	return v
}

// RecallQuery is what a step asks the team's memory. It names the
// challenge and the best point as the iteration began, not the role, so
// every role of an iteration recalls the same memories and their prompts
// share the text.
func RecallQuery(c *challenges.Challenge, b Brief) string {
	o := c.Primary()
	q := fmt.Sprintf("%s: %s %s", c.Title, o.Direction, o.Name)
	if b.Best != nil {
		q += " best " + PointJSON(c, b.Best.Point)
	}
	return q
}

// approxTokens estimates a text's tokens (about four bytes each for
// English; enough to size a budget).
func approxTokens(s string) int { return (len(s) + 3) / 4 }

// CapMemories keeps memories within a token budget: each is cut to
// memoryItemTokens, and the list stops before the budget would be passed.
func CapMemories(ms []string, budget int) []string {
	var out []string
	used := 0
	for _, m := range ms {
		m = strings.Join(strings.Fields(m), " ")
		if max := 4 * memoryItemTokens; len(m) > max {
			cut := max
			for cut > 0 && !utf8Start(m[cut]) {
				cut--
			}
			m = m[:cut] + "…"
		}
		if used+approxTokens(m) > budget {
			break
		}
		used += approxTokens(m)
		out = append(out, m)
	}
	return out
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// ReplyTokens bounds a role's reply, in tokens: the longest reply its
// schema allows (JSON runs about 2.5 bytes a token), with room for a tool
// call. A reply cut short is invalid JSON and costs a repair, so the
// bound is generous; the schema's own bounds keep replies short.
func ReplyTokens(role string, c *challenges.Challenge) int {
	const envelope = 48 // {"action": "final", "output": ...} and spacing
	var chars int
	switch role {
	case Planner:
		chars = 80 + maxRationale
	case SimOperator, LabOperator:
		chars = 40 + 4*maxPicks + maxRationale
	case Analyst:
		chars = 60 + maxFindings*(maxFinding+4) + maxRationale
	case Hypothesis:
		point := 2
		for _, p := range c.Parameters {
			width := 18 // a number: sign, digits, point, up to 16 decimals
			if p.Kind == challenges.Categorical {
				width = 2
				for _, o := range p.Options {
					width = max(width, len(o)+2)
				}
			}
			point += len(p.Name) + 4 + width
		}
		chars = 20 + maxHypotheses*(60+maxRationale+maxExpected+maxPerHyp*(point+2))
	}
	return max(128, (envelope+chars)*2/5+16)
}

// answer describes a role's answer, and the placeholder texts a reply must
// not copy.
type answer struct {
	format, note string
	placeholders []string
}

func answerOf(c *challenges.Challenge, in StepInput) answer {
	obj := c.Primary().Name
	// Free-text fields are shown empty and described after the object: a
	// small model copies whatever text sits in a value's place (an example
	// sentence, a quoted or bare placeholder) word for word, and the
	// schema's minimum length forbids leaving it empty.
	switch in.Role {
	case Planner:
		why := "your reason, from the results above, in one sentence"
		return answer{format: fmt.Sprintf(`{"decision": "explore", "lab_runs": %d, "simulations": 2, "rationale": ""}`, max(in.Limits.MaxLabRuns, 1)),
			note: fmt.Sprintf(`decision: "explore", "exploit" or "stop"; lab_runs: %d is the lab's capacity, ask for fewer only for a reason; simulations: 0 to %d; rationale: %s`,
				max(in.Limits.MaxLabRuns, 1), max(in.Limits.MaxSimulations, 0), why), placeholders: []string{why}}
	case Hypothesis:
		st, ex := "your hypothesis in one sentence", fmt.Sprintf("the %s you expect", obj)
		point := NewChallengeView(c).Example
		if len(in.Brief.Suggestions) > 0 {
			point = PointJSON(c, in.Brief.Suggestions[0].Point)
		}
		return answer{format: fmt.Sprintf(`{"hypotheses": [{"statement": "", "expected": "", "candidates": [%s]}]}`, point),
			note: fmt.Sprintf("one hypothesis; statement: %s; expected: %s; candidates: 1 to %d points", st, ex, maxPerHyp), placeholders: []string{st, ex}}
	case SimOperator, LabOperator:
		key, n, why := "simulate", 0, "your reason in one sentence"
		if in.Brief.Plan != nil {
			n = in.Brief.Plan.Simulations
		}
		if in.Role == LabOperator {
			key = "run"
			if in.Brief.Plan != nil {
				n = in.Brief.Plan.LabRuns
			}
		}
		picks := make([]string, max(n, 1))
		for i := range picks {
			picks[i] = strconv.Itoa(i + 1)
		}
		return answer{format: fmt.Sprintf(`{"%s": [%s], "rationale": ""}`, key, strings.Join(picks, ", ")),
			note: fmt.Sprintf("%s: %d candidate numbers, your choice; rationale: %s", key, max(n, 1), why), placeholders: []string{why}}
	case Analyst:
		f, s := "short sentences on what the results show", "the campaign's progress in one sentence"
		return answer{format: `{"findings": [""], "converged": false, "summary": ""}`,
			note: fmt.Sprintf("findings: 1 to %d %s; converged: true or false; summary: %s", maxFindings, f, s), placeholders: []string{f, s}}
	}
	return answer{}
}

// checkProse rejects an answer whose texts are not prose about this
// campaign: a placeholder from the prompt copied back, template debris
// such as `{{#1}}} ({{#2}})` or `][0][`, or too few words. Such a reply is
// repaired, never stored or shown.
func checkProse(c *challenges.Challenge, role string, out any) string {
	ph := answerOf(c, StepInput{Role: role}).placeholders
	type text struct {
		name     string
		s        string
		minWords int
	}
	var ts []text
	switch v := out.(type) {
	case *Plan:
		ts = append(ts, text{"rationale", v.Rationale, 3})
	case *SimSelection:
		ts = append(ts, text{"rationale", v.Rationale, 3})
	case *LabSelection:
		ts = append(ts, text{"rationale", v.Rationale, 3})
	case *Analysis:
		for i, f := range v.Findings {
			ts = append(ts, text{fmt.Sprintf("finding %d", i+1), f, 3})
		}
		ts = append(ts, text{"summary", v.Summary, 3})
	case *Hypotheses:
		for i, h := range v.Hypotheses {
			ts = append(ts, text{fmt.Sprintf("hypothesis %d statement", i+1), h.Statement, 3}, text{fmt.Sprintf("hypothesis %d expected", i+1), h.Expected, 2})
		}
	}
	for _, t := range ts {
		if p := ProseProblem(t.s, t.minWords, ph); p != "" {
			return fmt.Sprintf("the %s %s", t.name, p)
		}
	}
	return ""
}

// ProseProblem says why s is not prose a person can read as a reason or a
// finding ("" when it is): it copies one of the prompt's placeholders, is
// template debris, or has fewer than minWords words.
func ProseProblem(s string, minWords int, placeholders []string) string {
	n := normalise(s)
	for _, p := range placeholders {
		if np := normalise(p); np != "" && strings.Contains(n, np) {
			return fmt.Sprintf("copies the prompt's placeholder %q: write your own, about this campaign's results", p)
		}
	}
	short := s
	if len(short) > 40 {
		short = short[:40] + "…"
	}
	// Braces, and brackets run together, are JSON or template syntax, not
	// a sentence: `{{#1}}} ({{#2}})`, `][0][`, `}], // no more`.
	for _, debris := range []string{"{", "}", "][", "[[", "]]", "//"} {
		if strings.Contains(s, debris) {
			return fmt.Sprintf("%q is template debris, not prose: write a sentence about this campaign's results", short)
		}
	}
	letters, visible, words, run := 0, 0, 0, 0
	for _, r := range s + " " {
		switch {
		case unicode.IsLetter(r):
			letters++
			visible++
			run++
			continue
		case !unicode.IsSpace(r):
			visible++
		}
		if run >= 2 {
			words++
		}
		run = 0
	}
	if words < minWords || 10*letters < 6*visible {
		return fmt.Sprintf("%q is not prose: write a sentence about this campaign's results", short)
	}
	return ""
}

// normalise lowercases s and keeps only its letters and digits, one space
// between words, for comparing texts.
func normalise(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }), " ")
}
