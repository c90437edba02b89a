#!/usr/bin/env python3
"""Writes the descriptor tables of the built-in challenges' categorical parameters.

Run from anywhere:

    python3 challenges/data/make_descriptors.py          # (re)write every table
    python3 challenges/data/make_descriptors.py --check  # recompute and compare with the committed files

The generated CSV files are committed: Genesis reads them at run time and never needs Python. The
script needs RDKit and mendeleev at the pinned versions below; when the running interpreter lacks
them it creates a virtualenv (GENESIS_DESCRIPTORS_VENV, default ~/.cache/genesis/descriptors-venv-<pins>),
installs the pins from PyPI and runs itself again there. Everything it computes is deterministic: 2-D
descriptors of fixed structures (no conformers, no random seeds) and tabulated element properties.

What each table holds, where every structure comes from, and which parameters have no table (and why)
is in olympus/README.md and summit/README.md beside this file. Structures are never guessed: each
SMILES below is either in the source data itself or follows from a systematic chemical name, and the
script checks each one against an independent figure (formula, or a molecular weight the source lists).
"""

import csv
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

PINS = ["rdkit==2026.9.1", "mendeleev==1.3.0"]

HERE = Path(__file__).resolve().parent
OLYMPUS = HERE / "olympus"
SUMMIT = HERE / "summit"


def ensure_env():
    """Re-runs the script in a virtualenv with the pinned packages unless they are importable here."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        if all(version(pin.split("==")[0]) == pin.split("==")[1] for pin in PINS):
            return
    except PackageNotFoundError:
        pass
    if os.environ.get("GENESIS_DESCRIPTORS_REEXEC"):
        sys.exit(f"make_descriptors: {sys.executable} still lacks {', '.join(PINS)} after installing them")
    tag = hashlib.sha256(" ".join(PINS).encode()).hexdigest()[:8]
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genesis" / f"descriptors-venv-{tag}"
    venv = Path(os.environ.get("GENESIS_DESCRIPTORS_VENV", default))
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"make_descriptors: creating {venv} with {', '.join(PINS)}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PINS], check=True)
    env = dict(os.environ, GENESIS_DESCRIPTORS_REEXEC="1")
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


def fmt(v):
    """Six significant digits: enough for any descriptor, stable across platforms."""
    if isinstance(v, int):
        return str(v)
    s = f"{v:.6g}"
    return "0" if s == "-0" else s


def table(columns, rows):
    """CSV text with a header; rows are lists of already formatted cells."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(columns)
    w.writerows(rows)
    return out.getvalue()


def unique_column(path, index, skip=0):
    """The distinct values of one column of a data file, in order of first appearance."""
    seen = []
    with open(path, newline="") as f:
        for i, rec in enumerate(csv.reader(f)):
            if i >= skip and rec[index] not in seen:
                seen.append(rec[index])
    return seen


# --- Olympus's own descriptor files -----------------------------------------------------------
# Olympus ships descriptors.csv in long form: parameter, option, descriptor, value. They are copied
# unchanged into olympus/descriptors/source/ and pivoted here into one wide table per parameter,
# the values kept as written.


def olympus_long(name):
    tables = {}
    with open(OLYMPUS / "descriptors" / "source" / f"{name}.csv", newline="") as f:
        for param, option, desc, value in csv.reader(f):
            opts = tables.setdefault(param, {})
            row = opts.setdefault(option, {})
            if desc in row:
                raise SystemExit(f"{name}.csv: {param}/{option}/{desc} listed twice")
            row[desc] = value
    return tables


def pivot(name, param):
    opts = olympus_long(name)[param]
    names = []
    for row in opts.values():
        names += [d for d in row if d not in names]
    for option, row in opts.items():
        missing = [d for d in names if d not in row]
        if missing:
            raise SystemExit(f"{name}.csv: {param}/{option} lacks {missing}")
    return table(["option", *names], [[o, *(row[d] for d in names)] for o, row in opts.items()])


# --- RDKit: 2-D descriptors of a fixed structure ----------------------------------------------

RDKIT_COLUMNS = [
    "mol_wt",  # average molecular weight, g/mol
    "heavy_atoms",  # non-hydrogen atoms
    "heteroatoms",  # atoms other than C and H
    "rotatable_bonds",  # flexibility
    "nhoh_count",  # N-H and O-H hydrogens (hydrogen-bond donation)
    "h_acceptors",  # Lipinski hydrogen-bond acceptors
    "tpsa",  # topological polar surface area, Å² (N and O only)
    "crippen_logp",  # Wildman-Crippen octanol/water partition coefficient
    "crippen_mr",  # Wildman-Crippen molar refractivity (size and polarisability)
    "labute_asa",  # Labute approximate surface area, Å²
    "fraction_csp3",  # share of sp3 carbons
    "aromatic_rings",
    "balaban_j",  # Balaban's J: a topological index that tells apart regioisomers of one formula
    "bertz_ct",  # Bertz molecular complexity
]


def mol(smiles, formula=None):
    from rdkit import Chem
    from rdkit.Chem import rdMolDescriptors

    m = Chem.MolFromSmiles(smiles)
    if m is None:
        raise SystemExit(f"RDKit cannot parse {smiles!r}")
    if formula is not None and rdMolDescriptors.CalcMolFormula(m) != formula:
        raise SystemExit(f"{smiles}: formula {rdMolDescriptors.CalcMolFormula(m)}, want {formula}")
    return m


def rdkit_row(m):
    from rdkit.Chem import Crippen, Descriptors, GraphDescriptors, Lipinski, rdMolDescriptors

    vals = [
        Descriptors.MolWt(m),
        m.GetNumHeavyAtoms(),
        rdMolDescriptors.CalcNumHeteroatoms(m),
        rdMolDescriptors.CalcNumRotatableBonds(m),
        Lipinski.NHOHCount(m),
        rdMolDescriptors.CalcNumHBA(m),
        rdMolDescriptors.CalcTPSA(m),
        Crippen.MolLogP(m),
        Crippen.MolMR(m),
        rdMolDescriptors.CalcLabuteASA(m),
        rdMolDescriptors.CalcFractionCSP3(m),
        rdMolDescriptors.CalcNumAromaticRings(m),
        GraphDescriptors.BalabanJ(m),
        GraphDescriptors.BertzCT(m),
    ]
    return [fmt(v) for v in vals]


def rdkit_table(entries, with_smiles=True):
    """entries: (option, smiles, formula or None). A trailing smiles column documents the structure."""
    rows = []
    for option, smiles, formula in entries:
        row = [option, *rdkit_row(mol(smiles, formula))]
        rows.append(row + [smiles] if with_smiles else row)
    return table(["option", *RDKIT_COLUMNS, *(["smiles"] if with_smiles else [])], rows)


# --- hoip-band-gap (Kim et al. 2017 via Olympus perovskites) ------------------------------------
# Olympus's descriptors.csv for this set repeats one option's values for every option of each
# parameter (checked below), so it is unusable; the tables are computed instead.

# A-site cations by systematic name; the protonated (cationic) form, as in the perovskite.
HOIP_ORGANIC = [
    ("ethylammonium", "CC[NH3+]", "C2H8N+"),
    ("propylammonium", "CCC[NH3+]", "C3H10N+"),
    ("butylammonium", "CCCC[NH3+]", "C4H12N+"),
    ("isopropylammonium", "CC(C)[NH3+]", "C3H10N+"),
    ("dimethylammonium", "C[NH2+]C", "C2H8N+"),
    ("acetamidinium", "CC(N)=[NH2+]", "C2H7N2+"),
    ("methylammonium", "C[NH3+]", "CH6N+"),
    ("guanidinium", "NC(N)=[NH2+]", "CH6N3+"),
    ("hydroxylammonium", "O[NH3+]", "H4NO+"),
    ("formamidinium", "NC=[NH2+]", "CH5N2+"),
    ("tetramethylammonium", "C[N+](C)(C)C", "C4H12N+"),
    ("hydrazinium", "N[NH3+]", "H5N2+"),
    ("ammonium", "[NH4+]", "H4N+"),
    ("trimethylammonium", "C[NH+](C)C", "C3H10N+"),
    ("azetidinium", "C1C[NH2+]C1", "C3H8N+"),
    ("imidazolium", "c1c[nH+]c[nH]1", "C3H5N2+"),
]

ELEMENT_COLUMNS = [
    "atomic_weight",  # g/mol
    "en_pauling",  # Pauling electronegativity
    "ionization_energy_ev",  # first ionisation energy
    "electron_affinity_ev",
    "covalent_radius_pm",  # Pyykkö single-bond covalent radius
    "atomic_radius_pm",
    "vdw_radius_pm",
    "dipole_polarizability",  # atomic units
    "period",
]


def element_row(symbol):
    from mendeleev import element

    e = element(symbol)
    vals = [
        e.atomic_weight,
        e.en_pauling,
        e.ionenergies[1],
        e.electron_affinity,
        e.covalent_radius_pyykko,
        e.atomic_radius,
        e.vdw_radius,
        e.dipole_polarizability,
        e.period,
    ]
    if any(v is None for v in vals):
        raise SystemExit(f"mendeleev lacks a property of {symbol}: {vals}")
    return [fmt(v) for v in vals]


def halide_radius(symbol):
    """Shannon/Pauling/Ahrens radius of X⁻ in six-fold coordination, pm (the X site of ABX3)."""
    from mendeleev import element

    radii = [r.ionic_radius for r in element(symbol).ionic_radii if r.charge == -1 and r.coordination == "VI"]
    if len(radii) != 1:
        raise SystemExit(f"mendeleev: want one six-coordinate {symbol}- radius, got {radii}")
    return fmt(radii[0])


def check_olympus_perovskites():
    """Documents the defect: every option carries the last option's values (imidazolium, Pb, I)."""
    from rdkit.Chem import Descriptors

    long = olympus_long("perovskites")
    for param, opts in long.items():
        rows = list(opts.values())
        if any(r != rows[0] for r in rows):
            raise SystemExit(f"Olympus perovskites {param}: options differ; the README's account is out of date")
    organic = next(iter(long["organic"].values()))
    if abs(float(organic["total_mass"]) - Descriptors.MolWt(mol("c1c[nH+]c[nH]1"))) > 0.01:
        raise SystemExit("Olympus perovskites organic: total_mass is not imidazolium's")
    for param, symbol in (("cation", "Pb"), ("anion", "I")):
        row = next(iter(long[param].values()))
        ours = element_row(symbol)
        if abs(float(row["ionization_energy"]) - float(ours[2])) > 1e-3 or abs(float(row["electron_affinity"]) - float(ours[3])) > 1e-3:
            raise SystemExit(f"Olympus perovskites {param}: values are not {symbol}'s")


# --- cn-coupling-aniline (Baumgartner et al. 2019 via Summit) --------------------------------
# Structures from Summit's own tables of these ligands and bases: sustainable-processes/summit,
# data/baumgartner/ligands_bases.smi and ligands_bases.csv (commit a838ae6eba82dea5444cc065b9c50900bab6c03b;
# SMILES with CAS numbers). The molecular weights are those of Summit's COSMOquick tables
# (data/baumgartner/ligands.csv at 4eb3004ebeeb6bfb38bc91e985f488abc5a0a81b, data/descriptors/bases.csv
# at c61b72f7a2343b504f7203794d7c1e2fd1f8f024) and check each structure.
CN_CATALYST = [  # option, CAS, SMILES, molecular weight in Summit's table
    ("tBuXPhos", "564483-19-8", "CC(C)C1=CC(=C(C(=C1)C(C)C)C2=CC=CC=C2P(C(C)(C)C)C(C)(C)C)C(C)C", 424.64),
    ("tBuBrettPhos", "1160861-53-9", "CC(C)C1=CC(=C(C(=C1)C(C)C)C2=C(C=CC(=C2P(C(C)(C)C)C(C)(C)C)OC)OC)C(C)C", 484.7),
    (
        "AlPhos",
        "1805783-60-1",
        "CCCCC1=C(C(=C(C(=C1F)F)C2=C(C=C(C(=C2C(C)C)C3=C(C(=CC=C3)OC)P(C45CC6CC(C4)CC(C6)C5)C78CC9CC(C7)CC(C9)C8)C(C)C)C(C)C)F)F",
        815.06,
    ),
]
CN_BASE = [
    ("DBU", "6674-22-2", "C1CCC2=NCCCN2CC1", 152.24),
    ("BTMG", "29166-72-1", "CC(C)(C)N=C(N(C)C)N(C)C", 171.28),
    ("TMG", "80-70-6", "CN(C)C(=N)N(C)C", 115.18),
    ("TEA", "121-44-8", "CCN(CC)CC", 101.19),
]


def summit_table(entries):
    from rdkit.Chem import Descriptors

    rows = []
    for option, cas, smiles, mw in entries:
        m = mol(smiles)
        if abs(Descriptors.MolWt(m) - mw) > 0.05:
            raise SystemExit(f"{option}: RDKit weight {Descriptors.MolWt(m):.2f}, Summit lists {mw}")
        rows.append([option, *rdkit_row(m), cas, smiles])
    return table(["option", *RDKIT_COLUMNS, "cas", "smiles"], rows)


def build():
    """Every table, as path → CSV text."""
    check_olympus_perovskites()
    out = {}
    od = OLYMPUS / "descriptors"

    out[od / "perovskites_organic.csv"] = rdkit_table(HOIP_ORGANIC)
    out[od / "perovskites_metal.csv"] = table(["option", *ELEMENT_COLUMNS], [[s, *element_row(s)] for s in ("Ge", "Sn", "Pb")])
    out[od / "perovskites_halide.csv"] = table(
        ["option", *ELEMENT_COLUMNS, "ionic_radius_vi_pm"],
        [[s, *element_row(s), halide_radius(s)] for s in ("F", "Cl", "Br", "I")],
    )

    for param in ("r1_label", "r3_label", "r4_label", "r5_label"):
        out[od / f"redoxmers_{param.removesuffix('_label')}.csv"] = pivot("redoxmers", param)
    out[od / "mmli_opv_db_block.csv"] = pivot("mmli_opv", "DB_block")
    out[od / "mmli_opv_a_block.csv"] = pivot("mmli_opv", "A_block")

    # dye-laser-design: the options are the building blocks' SMILES, from the data itself.
    for i, frag in enumerate(("frag_a", "frag_b", "frag_c")):
        smiles = unique_column(OLYMPUS / "dye_lasers.csv", i)
        out[od / f"dye_lasers_{frag}.csv"] = rdkit_table([(s, s, None) for s in smiles], with_smiles=False)

    # electrochem-voltage: the ligands by name ("H20" is the data's spelling of water).
    out[od / "electrochem_ligand.csv"] = rdkit_table(
        [("H20", "O", "H2O"), ("Pyridine", "c1ccncc1", "C5H5N"), ("Ethylenediamine", "NCCN", "C2H8N2")]
    )

    # lnp-formulation: four "categorical" amounts whose option names are numbers; the table gives
    # each option its amount, so that a model sees 6 µg as nearer 12 µg than 48 µg.
    for i, param, col in (
        (0, "drug_input", "drug_input_ug"),
        (2, "solid_lipid_input", "solid_lipid_input_ug"),
        (3, "liquid_lipid_input", "liquid_lipid_input_ug"),
        (4, "surfactant_input", "surfactant_input"),  # the source gives no unit
    ):
        opts = unique_column(OLYMPUS / "lnp3.csv", i)
        out[od / f"lnp3_{param}.csv"] = table(["option", col], [[o, fmt(float(o))] for o in sorted(opts, key=float)])

    sd = SUMMIT / "descriptors"
    out[sd / "baumgartner_catalyst.csv"] = summit_table(CN_CATALYST)
    out[sd / "baumgartner_base.csv"] = summit_table(CN_BASE)
    return out


def main():
    check = "--check" in sys.argv[1:]
    if set(sys.argv[1:]) - {"--check"}:
        sys.exit(__doc__)
    ensure_env()
    tables = build()
    stale = []
    for path, text in tables.items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if stale:
        for p in stale:
            print(f"differs: {p.relative_to(HERE)}", file=sys.stderr)
        sys.exit(1)
    print(f"{len(tables)} tables {'match' if check else 'written'}", file=sys.stderr)


if __name__ == "__main__":
    main()
