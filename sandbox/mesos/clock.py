"""Emulator time: every emulated duration (heartbeats, timeouts, backoffs) goes through one Clock so a
test or chaos run can speed the whole cluster up (``scale`` > 1) without touching wall-clock stamps."""
import asyncio


class Clock:
    def __init__(self, scale: float = 1.0):
        self.scale = float(scale)

    def set_scale(self, scale: float):
        """Applies to sleeps and timers started from now on (running timers keep their deadline)."""
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = float(scale)

    def real(self, seconds: float) -> float:
        """Wall-clock seconds that correspond to ``seconds`` of emulated time."""
        return max(0.0, float(seconds)) / self.scale

    async def sleep(self, seconds: float):
        await asyncio.sleep(self.real(seconds))

    def call_later(self, seconds: float, callback, *args):
        return asyncio.get_running_loop().call_later(self.real(seconds), callback, *args)

    def deadline(self, seconds: float) -> float:
        """Loop time at which ``seconds`` of emulated time will have passed (compare with :meth:`now`)."""
        return asyncio.get_running_loop().time() + self.real(seconds)

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()
