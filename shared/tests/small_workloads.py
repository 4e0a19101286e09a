"""The workloads' small parameters the pipeline tests run: milliseconds each, and large enough
(160 kB arrays) that the Python objects around the arrays are noise next to the live-set bound."""
SMALL_PARAMS = {
    "seed_loop": {"size": 20_000, "iterations": 10},
    "seed_backward": {"size": 20_000, "iterations": 10},
    "deep_chain": {"size": 20_000, "depth": 50},
    "branching": {"size": 20_000, "layers": 5, "iterations": 4},
    "rosenbrock": {"size": 20_000, "iterations": 10},
    "no_grad_loop": {"size": 20_000, "iterations": 10},
}
