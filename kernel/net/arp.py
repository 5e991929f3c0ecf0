"""ARP (RFC 826) and the neighbour cache it fills: bounded, aged, and slow
to believe a station that contradicts it.

ARP has no authentication (RFC 5227 §1.1 says so plainly), so any station
on the wire can claim any address. What a careful stack can promise is
narrower, and this one promises it:

- **What creates an entry.** A reply to a request of our own (the first
  one wins), or a request that targets us (RFC 826's merge: the asker is
  about to talk to us, and needs an answer anyway). An unsolicited reply,
  or a request between two other stations, creates nothing (Linux's
  ``arp_accept=0``).
- **What confirms one.** Only a reply to our own request or poll, from the
  MAC we hold (RFC 4861 §7.3.1: a solicitation or an unsolicited
  advertisement proves nothing about the path *to* the station). A frame
  repeating the binding we hold changes nothing.
- **A contradiction never overwrites.** A request or reply that pairs a
  cached address with another MAC is counted and dropped; if we are
  talking to that host (the entry carried a packet within the reachable
  time, or packets wait for it) it starts a *unicast poll* of the MAC we hold (RFC 1122 §2.3.2.1's "unicast poll"; RFC
  4861 §7.3.3's PROBE state). If the station answers, the entry stands and a
  forger has gained nothing; only after ``ARP_TRIES`` unanswered polls is the
  entry deleted, and the next packet resolves the address afresh by
  broadcast -- which is how a station that really changed its card (and
  says so with a gratuitous ARP) is picked up, some 150 ms later. A reply
  to a poll from a MAC other than the polled one is ignored: only the
  polled station could have heard a unicast poll. Entries nobody uses are
  not polled, so a flood of contradictions cannot make us a transmitter of
  polls: they wait to be re-confirmed when they are next used.
- **Entries age.** One unconfirmed for ``ARP_REACHABLE_US`` (60 s virtual,
  RFC 4861's REACHABLE_TIME is 30 s, BSD's arpt_keep 20 min) is stale; it is
  re-confirmed by a unicast poll *before* it is used again, its packets held
  meanwhile, so a binding nobody vouched for lately never carries traffic.
- **Everything is bounded.** The cache holds ``ARP_CACHE_LIMIT`` entries,
  the least recently used shed first; an entry made because someone asked
  for us enters at the cold end, so a flood of requests from forged
  senders sheds only its own kind, never a station we talk to. At most
  ``ARP_PENDING_HOSTS`` addresses wait for resolution with at most
  ``ARP_PENDING_LIMIT`` packets each, and the negative cache (hosts that did
  not answer) is bounded and expires.

A sender that no host may have -- broadcast or multicast MAC, this host's
MAC or address, an address off this subnet -- is dropped and counted
(RFC 1812 §3.3.2; RFC 5227 §2.4 for a station claiming our address).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING

from kernel.core import costs
from kernel.net import packet as P
from kernel.params import (
    ARP_CACHE_LIMIT,
    ARP_FAILED_LIMIT,
    ARP_NEGATIVE_US,
    ARP_PENDING_HOSTS,
    ARP_PENDING_LIMIT,
    ARP_REACHABLE_US,
    ARP_RETRY_US,
    ARP_TRIES,
)

if TYPE_CHECKING:
    from kernel.net.stack import NetStack


class Entry:
    __slots__ = ("mac", "confirmed", "used")

    def __init__(self, mac: int, confirmed: int) -> None:
        self.mac = mac
        self.confirmed = confirmed  # the cycle of the last confirmation
        self.used = -1  # the cycle a packet last went out through it


class ArpCache(MutableMapping[str, int]):
    """Address -> MAC, least recently used first. As a mapping it reads and
    writes bindings (``cache[host] = mac`` installs a confirmed one, as the
    bench's warm-up does); the ARP code asks ``fresh`` and ``use``."""

    def __init__(self, now: Callable[[], int], limit: int = ARP_CACHE_LIMIT,
                 reachable_us: int = ARP_REACHABLE_US) -> None:  # fmt: skip
        self._now = now
        self.limit = limit
        self.reachable = reachable_us * costs.CLOCK_MHZ  # cycles
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.shed = 0

    def __getitem__(self, host: str) -> int:
        return self.entries[host].mac

    def __setitem__(self, host: str, mac: int) -> None:
        self.confirm(host, mac)

    def __delitem__(self, host: str) -> None:
        del self.entries[host]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, host: str) -> Entry | None:
        return self.entries.get(host)

    def fresh(self, e: Entry) -> bool:
        return self._now() - e.confirmed < self.reachable

    def in_use(self, e: Entry) -> bool:
        return e.used >= 0 and self._now() - e.used < self.reachable

    def use(self, host: str) -> None:
        """A packet went out through the entry: it is the most recently used."""
        self.entries[host].used = self._now()
        self.entries.move_to_end(host)

    def confirm(self, host: str, mac: int, cold: bool = False) -> None:
        """Install or re-confirm a binding. A ``cold`` one (learnt because
        someone asked for us) enters at the least recently used end."""
        e = self.entries.get(host)
        if e is None:
            while len(self.entries) >= self.limit > 0:
                self.entries.popitem(last=False)
                self.shed += 1
            e = self.entries[host] = Entry(mac, self._now())
            if cold:
                self.entries.move_to_end(host, last=False)
                return
        else:
            e.mac, e.confirmed = mac, self._now()
        self.entries.move_to_end(host)


class _Ask:
    """One outstanding resolution: a broadcast request, or a unicast poll of
    the MAC an entry holds (``mac``)."""

    __slots__ = ("mac", "tries")

    def __init__(self, mac: int | None) -> None:
        self.mac = mac
        self.tries = 0


class Arp:
    """The ARP half of one stack: input, resolution, the caches."""

    def __init__(self, stack: NetStack) -> None:
        self.stack = stack
        self.cache = ArpCache(lambda: stack.now)
        self.pending: dict[str, list[tuple[int, bytes]]] = {}
        self.failed: dict[str, int] = {}  # host -> cycle until which it counts as unreachable
        self.asking: dict[str, _Ask] = {}
        self.pending_hosts = ARP_PENDING_HOSTS
        self.failed_limit = ARP_FAILED_LIMIT

    # --- output ------------------------------------------------------------------------

    def unreachable(self, host: str) -> bool:
        """Did the host fail to answer lately (the negative cache)?"""
        until = self.failed.get(host)
        if until is None:
            return False
        if self.stack.now < until:
            return True
        del self.failed[host]
        return False

    def output(self, hop: str, pid: int, data: bytes) -> None:
        """Send an IP packet to ``hop``: through a fresh entry, or held until
        ``hop`` is resolved (or its stale entry re-confirmed)."""
        c = self.cache
        e = c.entries.get(hop)
        if e is not None and c.fresh(e):
            c.use(hop)
            self.stack.send_frame(e.mac, P.ETH_IP, data, pid)
            return
        q = self.pending.get(hop)
        if q is None:
            if len(self.pending) >= self.pending_hosts:
                self.stack.drop(pid, "IP", "too many unresolved hosts", hop)
                return
            q = self.pending[hop] = []
        if len(q) >= ARP_PENDING_LIMIT:
            self.stack.drop(pid, "IP", "ARP queue full", hop)
            return
        q.append((pid, data))
        self._ask(hop)

    def _ask(self, host: str) -> None:
        """Start resolving ``host`` unless that is under way: a unicast poll
        if an entry holds a MAC for it, a broadcast request otherwise."""
        if host in self.asking:
            return
        e = self.cache.entry(host)
        ask = self.asking[host] = _Ask(e.mac if e is not None else None)
        self._request(host, ask)

    def _request(self, host: str, ask: _Ask) -> None:
        if self.asking.get(host) is not ask:
            return  # answered, or superseded
        st = self.stack
        if ask.tries >= ARP_TRIES:
            del self.asking[host]
            if ask.mac is not None:  # the station we hold did not answer its polls: forget it
                e = self.cache.entry(host)
                if e is not None and e.mac == ask.mac:
                    del self.cache[host]
                st.counters["arp entries deleted: polls unanswered"] += 1
                if host in self.pending:
                    self._ask(host)  # resolve afresh, by broadcast
                return
            self._give_up(host)
            return
        ask.tries += 1
        st.counters["arp polls sent" if ask.mac is not None else "arp requests sent"] += 1
        dst = ask.mac if ask.mac is not None else P.BROADCAST
        st.send_frame(dst, P.ETH_ARP, P.arp(1, st.mac, st.address, 0, host))
        st.timer(ARP_RETRY_US * costs.CLOCK_MHZ, lambda: self._request(host, ask))

    def _give_up(self, host: str) -> None:
        st = self.stack
        if host not in self.failed and len(self.failed) >= self.failed_limit:
            now = st.now
            for h in [h for h, until in self.failed.items() if until <= now] or [next(iter(self.failed))]:
                del self.failed[h]
        self.failed[host] = st.now + ARP_NEGATIVE_US * costs.CLOCK_MHZ
        for pid, _ in self.pending.pop(host, []):
            st.drop(pid, "IP", "host unreachable: no ARP reply", host)
        for hook in st.unreachable_hooks:
            hook(host)

    def _resolved(self, host: str, mac: int) -> None:
        self.asking.pop(host, None)
        self.failed.pop(host, None)
        for pid, ipdata in self.pending.pop(host, []):
            self.stack.send_frame(mac, P.ETH_IP, ipdata, pid)

    # --- input -------------------------------------------------------------------------

    def _bad_sender(self, a: P.ArpPacket) -> str:
        """Why no host could have sent this (RFC 1812 §3.3.2, RFC 5227 §2.4), or ''."""
        st = self.stack
        if a.sender_mac & (1 << 40) or a.sender_mac == 0:
            return "sender hardware address is broadcast, multicast or zero"
        if a.sender_mac == st.mac:
            return "sender hardware address is this host's"
        if a.sender == st.address:
            return "another station claims this host's address"
        if a.sender == "0.0.0.0":
            return ""  # an RFC 5227 probe: answered below, never learnt
        s = int.from_bytes(P.ip_aton(a.sender), "big")
        if s & st.mask != st.net or s == st.bcast_int or s == st.net:
            return "sender is not a host on this subnet"
        return ""

    def input(self, f: P.EtherFrame) -> None:
        """Ether.PacketArrived's ARP binding."""
        st = self.stack
        try:
            a = P.parse_arp(f)
        except P.Malformed as e:
            st.malformed(f.id, "ARP", e)
            return
        st.sal.charge(costs.NET_LAYER)
        bad = self._bad_sender(a)
        if bad:
            st.drop(f.id, "ARP", bad, a.sender)
            return
        for_us = a.target == st.address
        if a.sender != "0.0.0.0":
            if not self._merge(a, for_us):
                return
        elif not for_us:
            st.drop(f.id, "ARP", "not for this host", a.target)
            return
        if a.op == 1 and for_us:
            st.counters["arp replies sent"] += 1
            st.send_frame(a.sender_mac, P.ETH_ARP, P.arp(2, st.mac, st.address, a.sender_mac, a.sender))

    def _merge(self, a: P.ArpPacket, for_us: bool) -> bool:
        """RFC 826's merge under the policy above; False if the packet was dropped."""
        st = self.stack
        c = self.cache
        e = c.entry(a.sender)
        ask = self.asking.get(a.sender)
        answer = (
            a.op == 2
            and ask is not None
            and for_us
            and a.target_mac == st.mac
            and (ask.mac is None or ask.mac == a.sender_mac)
        )  # a poll is answered by the polled card alone
        if e is None:
            if answer or (a.op == 1 and for_us):
                c.confirm(a.sender, a.sender_mac, cold=not answer and a.sender not in self.pending)
                self._resolved(a.sender, a.sender_mac)
                return True
            st.drop(a.id, "ARP", "unsolicited reply" if a.op == 2 else "not for this host", a.sender)
            return False
        if e.mac == a.sender_mac:
            if answer:
                c.confirm(a.sender, a.sender_mac)
                self._resolved(a.sender, a.sender_mac)
            elif not for_us:
                st.drop(a.id, "ARP", "not for this host", a.target)
                return False
            return True
        # a contradiction: never believed; the MAC we hold is polled instead, if we talk to the host
        st.drop(a.id, "ARP", "contradicts the cached address", f"{a.sender} is-at {P.mac_str(a.sender_mac)}")
        if ask is None and (c.in_use(e) or a.sender in self.pending):
            self.asking[a.sender] = poll = _Ask(e.mac)
            self._request(a.sender, poll)
        return for_us and a.op == 1  # still answer its question: it learns only our own binding
