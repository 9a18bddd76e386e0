"""What an integration's `sandbox.py` receives when `chegou-hub demo` starts its simulator.

Every integrations/<svc>/sandbox.py may define

    def demo_setup(env: DemoEnvironment) -> dict[str, Any]:
        sim = env.add_simulator("shopify", SimulatorServer(build_app(seed=env.seed)))
        return {"shopify_stores": {...: {"api_base_url": sim.base_url, ...}}}

returning Settings overrides that point the hub at the simulator. Simulators added here can get
faults injected from the demo console (`!fault shopify /admin 503 2`).
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from integrations.runtime.harness import SimulatorServer


@dataclass
class DemoEnvironment:
    stack: ExitStack
    seed: int = 42
    simulators: dict[str, SimulatorServer] = field(default_factory=dict)
    # Anything a simulator wants the demo to know (e.g. the seeded channel ids).
    extras: dict[str, Any] = field(default_factory=dict)

    def add_simulator(self, name: str, server: SimulatorServer) -> SimulatorServer:
        self.stack.enter_context(server)
        self.simulators[name] = server
        return server
