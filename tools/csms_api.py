"""What test code calls on the development central system (tools/csms.py) from its
own thread: the records of every frame and event, waits on them, and CALLs,
raw frames and disconnects made on the server's event loop. A mixin of
CentralSystem; the csms module docstring documents each method."""
import asyncio
import concurrent.futures
import time
import uuid

from ocpp.messages import Call, CallResult, MessageType

from csms_wire import CallErrorReply, _check, _log_record, _summary


class ThreadApi:
    # ---- recording (both threads) ----
    def _record(self, rec):
        with self._cond:
            self._seq += 1
            rec["seq"], rec["timestamp"] = self._seq, time.time()
            self._records.append(rec)
            if len(self._records) > self.max_records:
                del self._records[:len(self._records) // 2]
            self._version += 1
            self._cond.notify_all()
        _log_record(rec)
        return rec

    def _event(self, cp_id, what, **info):
        info.update(cp_id=cp_id, event=what, timestamp=time.time())
        with self._cond:
            self.events.append(info)
            del self.events[:-1000]
            self._version += 1
            self._cond.notify_all()

    def messages(self, cp_id=None, action=None, direction=None, message_type=None):
        with self._cond:
            recs = list(self._records)
        return [r for r in recs if (cp_id is None or r["cp_id"] == cp_id)
                and (action is None or r["action"] == action)
                and (direction is None or r["direction"] == direction)
                and (message_type is None or r["message_type"] == message_type)]

    def mark(self):
        with self._cond:
            return self._seq

    def clear(self):
        with self._cond:
            del self._records[:]
            del self.events[:]

    def wait_for(self, predicate, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                recs, ver = list(self._records), self._version
            res = predicate(recs)
            if res:
                return res
            with self._cond:
                while self._version == ver:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        tail = "; ".join(_summary(r) for r in recs[-6:]) or "none"
                        raise TimeoutError("condition not met within %ss; last messages: %s"
                                           % (timeout, tail))
                    self._cond.wait(left)

    def wait_message(self, cp_id=None, action=None, direction="in", message_type="CALL",
                     after=0, timeout=10):
        def first(recs):
            for r in recs:
                if r["seq"] > after and (cp_id is None or r["cp_id"] == cp_id) \
                        and (action is None or r["action"] == action) \
                        and (direction is None or r["direction"] == direction) \
                        and (message_type is None or r["message_type"] == message_type):
                    return r
            return None
        try:
            return self.wait_for(first, timeout)
        except TimeoutError as e:
            raise TimeoutError("no %s %s %s from/to %s: %s"
                               % (direction, message_type, action, cp_id, e)) from None

    def connected(self, cp_id):
        return cp_id in self._links

    def charge_points(self):
        return sorted(self._links.copy())

    def connect_count(self, cp_id):
        with self._cond:
            return sum(1 for e in self.events if e["cp_id"] == cp_id and e["event"] == "connected")

    def wait_connected(self, cp_id, timeout=10):
        def ok(_):
            return self.connected(cp_id)
        try:
            return self.wait_for(ok, timeout)
        except TimeoutError:
            raise TimeoutError("%s did not connect within %ss" % (cp_id, timeout)) from None

    # ---- central-system initiated (any thread) ----
    def _run(self, coro, timeout):
        loop = self._loop
        if loop is None:
            coro.close()
            raise ConnectionError("the central system is not running")
        fut = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.CancelledError:
            raise ConnectionError("the central system stopped while waiting") from None
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError("no result within %ss" % timeout) from None

    def call(self, cp_id, action, payload=None, timeout=10, validate=True):
        return self._run(self._call(cp_id, action, {} if payload is None else payload,
                                    timeout, validate), timeout + 5)

    async def _call(self, cp_id, action, payload, timeout, validate):
        link = self._links.get(cp_id)
        if link is None:
            raise ConnectionError("%s is not connected" % cp_id)
        msg = Call(str(uuid.uuid4()), action, payload)
        if validate:
            await _check(msg, "request")
        async with link.cp._call_lock:
            await link.send(msg.to_json())
            waiter = asyncio.ensure_future(link.cp._get_specific_response(msg.unique_id, timeout))
            await asyncio.wait([waiter, link.closed], return_when=asyncio.FIRST_COMPLETED)
            if not waiter.done():
                waiter.cancel()
                raise ConnectionError("%s disconnected before answering %s" % (cp_id, action))
            try:
                resp = waiter.result()
            except asyncio.TimeoutError:
                raise TimeoutError("%s did not answer %s within %ss" % (cp_id, action, timeout)) from None
        if resp.message_type_id == MessageType.CallError:
            raise CallErrorReply(action, resp.error_code, resp.error_description, resp.error_details)
        if validate:
            await _check(CallResult(resp.unique_id, resp.payload, action), "response")
        return resp.payload

    def send_raw(self, cp_id, raw, timeout=5):
        async def go():
            link = self._links.get(cp_id)
            if link is None:
                raise ConnectionError("%s is not connected" % cp_id)
            return await link.send(raw)
        return self._run(go(), timeout)

    def wait_raw_reply(self, sent, timeout=10):
        """The first result/error from the same charge point after `sent`; matched by unique
        id when `sent` was a well-formed CALL."""
        uid = sent["unique_id"] if sent["message_type"] == "CALL" else None

        def reply(recs):
            for r in recs:
                if r["seq"] > sent["seq"] and r["cp_id"] == sent["cp_id"] and r["direction"] == "in" \
                        and r["message_type"] != "CALL" and (uid is None or r["unique_id"] == uid):
                    return r
            return None
        return self.wait_for(reply, timeout)

    def disconnect(self, cp_id, abort=False, timeout=5):
        async def go():
            link = self._links.get(cp_id)
            if link is None:
                return False
            if abort:
                link.ws.transport.abort()
            else:
                await link.ws.close(1000, "closed by the central system")
            await link.closed
            return True
        return self._run(go(), timeout)
