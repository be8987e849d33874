"""The questions' queue: `slots` answers at once, served in turn across users, at most `per_user`
waiting or running per user.

Hand-written: gradio's queue is first come, first served for every event, so one user's 20
questions sent through the API would all be answered before a colleague's first. Here, when a slot
frees, it goes to the waiting user with the fewest answers running, then the one served longest
ago; a user's own questions keep their order. A question waiting therefore waits for at most one
answer per other user ahead of it, whatever they queued.

Waiting is a poll of a flag (`Ticket.wait_async`): the app's handler awaits it on gradio's event
loop without holding one of its worker threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque


class Busy(Exception):
    """The user already has `held` questions waiting or running."""

    def __init__(self, held: int) -> None:
        super().__init__(f"{held} questions already waiting or running")
        self.held = held


class Ticket:
    def __init__(self, user: str) -> None:
        self.user = user
        self.granted = threading.Event()
        self.done = False

    def wait(self, timeout: float | None = None) -> bool:
        return self.granted.wait(timeout)

    async def wait_async(self, timeout: float, poll: float = 0.05) -> bool:
        """True once granted; False after `timeout` seconds without."""
        end = time.monotonic() + timeout
        while not self.granted.is_set():
            if time.monotonic() >= end:
                return False
            await asyncio.sleep(poll)
        return True


class Gate:
    def __init__(self, slots: int, per_user: int) -> None:
        self.slots, self.per_user = max(1, slots), max(1, per_user)
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self._waiting: dict[str, deque[Ticket]] = {}
        self._served: dict[str, int] = {}  # user -> the number of the grant they last had
        self._grants = 0

    def enter(self, user: str) -> Ticket:
        """Queue a question of `user` (granted at once when a slot is free); Busy over per_user."""
        with self._lock:
            held = self._running.get(user, 0) + len(self._waiting.get(user, ()))
            if held >= self.per_user:
                raise Busy(held)
            ticket = Ticket(user)
            self._waiting.setdefault(user, deque()).append(ticket)
            self._grant()
            return ticket

    def release(self, ticket: Ticket) -> None:
        """The question is answered, failed or abandoned: free its slot or its place."""
        with self._lock:
            if ticket.done:
                return
            ticket.done = True
            if ticket.granted.is_set():
                self._running[ticket.user] -= 1
                if not self._running[ticket.user]:
                    del self._running[ticket.user]
            else:
                queue = self._waiting.get(ticket.user, deque())
                if ticket in queue:
                    queue.remove(ticket)
                if not queue:
                    self._waiting.pop(ticket.user, None)
            self._grant()

    def ahead(self, ticket: Ticket) -> int:
        """Questions that will be answered or are being answered before this waiting one."""
        with self._lock:
            if ticket.granted.is_set() or ticket.done:
                return 0
            running = dict(self._running)
            waiting = {u: deque(q) for u, q in self._waiting.items()}
            served, grants = dict(self._served), self._grants
            before = sum(running.values())
            while waiting:
                user = self._next(running, waiting, served)
                if waiting[user].popleft() is ticket:
                    return before
                running[user] = running.get(user, 0) + 1
                grants += 1
                served[user] = grants
                if not waiting[user]:
                    del waiting[user]
                before += 1
            return before

    def state(self) -> tuple[dict[str, int], dict[str, int]]:
        """(running, waiting) per user: for tests and the log."""
        with self._lock:
            return dict(self._running), {u: len(q) for u, q in self._waiting.items()}

    def _grant(self) -> None:
        while self._waiting and sum(self._running.values()) < self.slots:
            user = self._next(self._running, self._waiting, self._served)
            ticket = self._waiting[user].popleft()
            if not self._waiting[user]:
                del self._waiting[user]
            self._running[user] = self._running.get(user, 0) + 1
            self._grants += 1
            self._served[user] = self._grants
            ticket.granted.set()

    @staticmethod
    def _next(running: dict[str, int], waiting: dict[str, deque], served: dict[str, int]) -> str:
        return min(waiting, key=lambda u: (running.get(u, 0), served.get(u, 0)))
