"""The parts of BENCH.md that explain the targets: what the weakref policy costs per op, the profile of
what remains where a target is not met, and what each of weakref's features costs.

Each sentence here is derived from the run's own figures (the policy probe, the cProfile rows,
the features group); one the data does not support is left out. Spreads are median [min–max].
"""
from graphmem.bench import cells, features
from graphmem.bench.targets import EXPRESSIONS, FWD_BWD_VS_PEER, REFERENCE, SMALL_SHAPES, difference, \
    median_per_op, peer_label, per_op_ratio, per_op_targets_not_met, shapes
from graphmem.facts import VARIANTS


def policy_cost_section(result):
    """weakref against strong per op, with weakref.ref's own cost measured apart in the same run."""
    probes = {}
    for row in result.get("weakref_cost", []):
        probes.setdefault(row["implementation"], []).append(row)
    probe_rows = []
    for name in (n for n in VARIANTS if n in probes):
        pooled = probes[name]
        median = lambda key: sorted(r[key]["median"] for r in pooled)[len(pooled) // 2]  # noqa: E731
        spread = lambda key: (min(r[key]["median"] for r in pooled), max(r[key]["median"] for r in pooled))  # noqa: E731
        probe_rows.append([name, *(cells.spread({"median": median(k), "min": spread(k)[0], "max": spread(k)[1]})
                                   for k in ("create_ns", "dereference_ns", "create+dereference_ns")), len(pooled)])
    own = _weakref_probe_ns(result)
    rows = []
    for shape in shapes(result):
        for expression in EXPRESSIONS:
            strong, weak = (median_per_op(result, n, expression, shape, "forward+backward") for n in ("strong", REFERENCE))
            measured = per_op_ratio(result, "strong", REFERENCE, expression, shape)
            if strong is None or weak is None or measured is None:
                continue
            gap = weak - strong
            rows.append([shape, EXPRESSIONS[expression], cells.time(strong), cells.time(weak), cells.signed_time(gap),
                         cells.value(measured[0], measured[1]),
                         difference(result, "strong", REFERENCE, expression, shape) or "–", cells.time(own),
                         "–" if own is None else cells.signed_time(gap - own)])
    text = ["## What the weakref policy costs per operation",
            "",
            "Each Function has one output here, so the weakref variant does, per op, one `weakref.ref(output)` in "
            "forward and one dereference `ref()` in backward that strong does not. Those two calls are timed alone "
            "in every variant's per-operation process of this run (fresh objects of the variant's own Variable "
            "class, minus the same loop without the call; per object, median [min–max] over the rounds):",
            "",
            cells.table(["process", *(cells.named(h) for h in ("weakref.ref(obj)", "ref()", "both")), "rounds"],
                        probe_rows) if probe_rows
            else "(not measured in this run)",
            "",
            "Against the strong variant (fwd+bwd per op, medians; strong/weakref as the median [min–max] of "
            "the round-by-round ratios; 'difference' says lower or higher only where the two variants' round "
            "medians have min–max ranges that do not overlap, else within noise). "
            "'Rest' is the difference not explained by the two weakref calls (measured in weakref's own "
            "process): the rest of the policy's lines (the `None in outputs` check in backward, freeing each "
            "graph on drop rather than in a collection) and noise.",
            "",
            cells.table(["shape", "expression", "strong", "weakref", "weakref − strong", cells.named("strong/weakref"),
                         "difference", "weakref.ref + ref()", "rest"], rows) if rows
            else "(strong or weakref not measured)"]
    return "\n".join(text)


def _weakref_probe_ns(result):
    pooled = [r["create+dereference_ns"]["median"] for r in result.get("weakref_cost", [])
              if r["implementation"] == REFERENCE]
    return sorted(pooled)[len(pooled) // 2] if pooled else None


def _profile_table(profile, top):
    total = profile["total_own_ns_per_op"]
    rows = [[f"`{r['function']}`", r["where"], f"{r['calls_per_op']:.3g}", cells.time(r["own_ns_per_op"]),
             f"{100 * r['own_ns_per_op'] / total:.0f}%" if total else "–"]
            for r in profile["functions_profiled"][:top]]
    return cells.table(["function", "where", "calls per op", "own time per op", "share"], rows)


def profile_section(result, top=12):
    """The cProfile of weakref and of the floor, when a per-op target was not met."""
    profiles = {(row["implementation"], row.get("expression", "square_chain")): row
                for row in result.get("profile", [])}
    missed = per_op_targets_not_met(result)
    ours = profiles.get((REFERENCE, "square_chain"))
    if ours is None:
        return "## Profile of what remains\n\n(no profile in this run)"
    if not missed:
        return ("## Profile of what remains\n\nEvery per-operation target this run measured is met; the "
                "profiles of weakref and the floor are in bench.json (`profile`).")
    parts = ["## Profile of what remains",
             "",
             "Per-operation targets not met in this run: " + "; ".join(
                 f"{t['target']} = {t['value']:.3f} (limit {t['limit']})" for t in missed) + ".",
             "",
             f"Where the time goes: `cProfile`, run by the bench itself (group `profile`), over fwd+bwd on 0-d "
             f"inputs ({ours['functions']} Functions × {ours['repeats']} repetitions). cProfile's hooks slow "
             "every call, so read the shares, not the totals. Own time per op, top entries:"]
    for (name, expression), profile in profiles.items():
        if name in (REFERENCE, "minimal"):
            parts += ["", f"**{name}, {EXPRESSIONS[expression]}** (total own time "
                          f"{cells.time(profile['total_own_ns_per_op'])} per op under the profiler)", "",
                      _profile_table(profile, top)]
    floor = profiles.get(("minimal", "square_chain"))
    if floor is not None:
        floor_names = {r["function"] for r in floor["functions_profiled"]}
        extra = [r for r in ours["functions_profiled"] if r["function"] not in floor_names]
        extra_ns = sum(r["own_ns_per_op"] for r in extra)
        parts += ["", "Entries in weakref's square-chain profile with no namesake in the floor's: "
                  + ", ".join(f"`{r['function']}` {cells.time(r['own_ns_per_op'])}" for r in extra[:8])
                  + f" (together {cells.time(extra_ns)} per op of weakref's {cells.time(ours['total_own_ns_per_op'])}"
                  + f"; the floor's total is {cells.time(floor['total_own_ns_per_op'])})."]
    parts += ["", "Why this remains: see the next section, which measures it."]
    return "\n".join(parts)


def _features_rows(result):
    """The features measurement of the reference variant, by version label, or {}."""
    return {row["version"]: row for row in result.get("features", []) if row.get("implementation") == REFERENCE}


def _case(row, expression, shape):
    """One version's measurement of one expression and shape, or None."""
    for case in row.get("cases", []):
        if (case["expression"], case["shape"]) == (expression, shape):
            return case
    return None


def features_section(result):
    """Each of weakref's per-op checks switched off, against the floor, and why what remains stays."""
    rows = _features_rows(result)
    heading = "## What the features cost, and why the targets not met stay so"
    if REFERENCE not in rows:
        return heading + "\n\n(no features measurement in this run: `--group features`)"
    some = rows[REFERENCE]
    intro = (f"Group `features`, in one process: weakref's core as installed, the same source with the lines of "
             f"one feature switched off (`graphmem.bench.features` lists the exact lines; a check becomes "
             f"`if False:`), all of those at once, the lean design (`graphmem.bench.lean`: the variants' fast "
             f"paths, one input and one output, no features; square only) and the floor, each timed on fwd+bwd "
             f"of the bench's expressions ({some['functions']} Functions), {some['repeats']} repetitions "
             f"interleaved in rotating order. Ratios are taken repetition by repetition (neighbours in time), "
             f"median [min–max]. The versions without checks are measurements only: they would "
             f"fail the contract.")
    parts = [heading, intro]
    for expression, with_floor in (("square_chain", True), ("binary_mix", False)):
        columns = tuple(cells.named(c) for c in ("fwd+bwd per op", "× weakref", "× floor"))[:3 if with_floor else 2]
        header = ["version", "switched off"] + [f"{shape} {what}" for shape in SMALL_SHAPES for what in columns]
        table = []
        for label, row in rows.items():
            if "error" in row:
                table.append([label, row["off"], f"not measured: {row['error']}"] + [""] * (len(header) - 3))
                continue
            line = [label, row["off"]]
            for shape in SMALL_SHAPES:
                case = _case(row, expression, shape)
                if case is None:
                    break
                line += [cells.spread(case["per_op_ns"]), cells.ratio_spread(case["to_variant"])]
                if with_floor:
                    line.append(cells.ratio_spread(case["to_floor"]))
            else:
                table.append(line)
        parts += [f"**{EXPRESSIONS[expression]}**", cells.table(header, table)]
    parts += [why_the_floor_target_stays(result), why_the_peer_targets_stay(result)]
    return "\n\n".join(part for part in parts if part)


def _to(rows, label, key, expression, shape):
    case = _case(rows[label], expression, shape) if label in rows and "error" not in rows[label] else None
    return None if case is None or key not in case else case[key]["median"]


def why_the_floor_target_stays(result):
    """Derived from the features measurement: which part of the gap to the floor's target the checks
    explain, and which part the general Function does."""
    rows = _features_rows(result)
    limit = FWD_BWD_VS_PEER["minimal"]
    needed = [REFERENCE, features.EVERY_CHECK, features.LEAN]
    absent = [label for label in needed if _to(rows, label, "to_floor", "square_chain", "0-d") is None]
    if absent:
        return "Why the floor target is not met: not derived, because this run lacks " + ", ".join(absent) + "."

    def floor_ratio(label, shape):
        return _to(rows, label, "to_floor", "square_chain", shape)

    def listed(label, shapes):
        return " and ".join(f"{floor_ratio(label, shape):.3f}× on {shape}" for shape in shapes)

    parts = [f"**Against the floor.** weakref runs at {listed(REFERENCE, SMALL_SHAPES)} the floor, against a limit "
             f"of {limit}."]
    missed = [shape for shape in SMALL_SHAPES if floor_ratio(REFERENCE, shape) > limit]
    if not missed:
        return parts[0] + " The target is met in this measurement; the targets table has the per-op rounds."
    single = [label for label, row in rows.items() if "error" not in row and label not in
              (REFERENCE, features.EVERY_CHECK, features.LEAN, features.FLOOR)]
    if single:
        costliest = min(single, key=lambda label: _to(rows, label, "to_variant", "square_chain", missed[0]))
        saving = 1 - _to(rows, costliest, "to_variant", "square_chain", missed[0])
        parts.append(f"Its costliest single check on {missed[0]} is {costliest} ({rows[costliest]['off']}): "
                     f"{100 * saving:.0f}% of its time per op.")
    by_checks = [shape for shape in missed if floor_ratio(features.EVERY_CHECK, shape) <= limit]
    by_generality = [shape for shape in missed if shape not in by_checks]
    if by_checks:
        parts.append(
            f"With every check and grad mode switched off at once it runs at {listed(features.EVERY_CHECK, by_checks)}, "
            f"within the limit: there the checks are what the target costs, and the contract requires each of them "
            f"(a clear error naming the Function and the input, no_grad, one call per Function).")
    if by_generality:
        lean_meets = all(floor_ratio(features.LEAN, shape) <= limit for shape in by_generality)
        parts.append(
            f"Even with every check and grad mode off it runs at {listed(features.EVERY_CHECK, by_generality)}, so "
            f"there the checks are not what keeps it above the limit. What is left is the general Function that "
            f"the book's API and the contract share: any number of inputs and outputs, so lists of inputs, "
            f"outputs and gradients, a tuple per backward call and a loop over the inputs, for a square as for "
            f"anything else. The lean design, which drops that generality as well as the checks, runs at "
            f"{listed(features.LEAN, by_generality)}"
            + (", under the limit: the target is within reach of a Function that takes one input and gives one "
               "output, not of one that takes any. Meeting it would take a second, special-cased code path "
               "beside the general one in `Function.__call__` and in `backward`, in each of the three variants, "
               "which every reader of the chapter would have to read twice; the variants keep one."
               if lean_meets else ", itself above the limit: on this machine no version of this design meets it."))
    return " ".join(parts)


def _top_entries(result, expression, count=4):
    """', whose profile's largest own-time entries are ...' for weakref's profile of the expression, or ''."""
    for row in result.get("profile", []):
        if row["implementation"] == REFERENCE and row.get("expression", "square_chain") == expression:
            total = row["total_own_ns_per_op"] or 1
            return ", whose profile above has as its largest own-time entries " + ", ".join(
                f"`{e['function']}` ({e['where']}) {100 * e['own_ns_per_op'] / total:.0f}%"
                for e in row["functions_profiled"][:count])
    return ""


def why_the_peer_targets_stay(result):
    """For each target against the book or PyTorch not met: the ratio weakref would have with every check
    off (its measured ratio times the unchecked version's ratio to weakref), and with the lean design."""
    rows = _features_rows(result)
    lines = []
    for target in per_op_targets_not_met(result):
        peer, expression, shape = target["peer"], target["expression"], target["shape"]
        if peer == "minimal":
            continue
        unchecked = _to(rows, features.EVERY_CHECK, "to_variant", expression, shape)
        if unchecked is None:
            continue
        lean = _to(rows, features.LEAN, "to_variant", expression, shape)
        line = (f"- × {peer_label(result, peer)}, {shape}, {EXPRESSIONS[expression]}: {target['value']:.3f} (limit "
                f"{target['limit']}); with every check off ≈ {unchecked * target['value']:.3f}")
        if lean is not None:
            line += f", the lean design ≈ {lean * target['value']:.3f}"
        limit = FWD_BWD_VS_PEER[peer]
        if unchecked * target["value"] <= limit:
            line += ": the checks are what this target costs."
        elif lean is not None and lean * target["value"] <= limit:
            line += ": the general Function (any number of inputs and outputs) is what it costs."
        elif expression == "binary_mix":
            line += ": the checks do not explain it; the rest is the general two-input Function, the operators "
            line += "and NumPy's arithmetic" + _top_entries(result, expression) + "."
        else:
            line += ": no version of this design meets it here."
        lines.append(line)
    if not lines:
        return ""
    return ("**Against the book's package and PyTorch.** Each estimate multiplies weakref's ratio to the peer "
            "(targets table) by the unchecked or lean version's ratio to weakref measured here:\n\n"
            + "\n".join(lines))

