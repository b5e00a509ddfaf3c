"""A local MQTT broker for the tests, the demo and the benchmark: Debian's
mosquitto on a free port of 127.0.0.1, with a configuration written for the run
(optionally a user and password, and TLS), and a client that watches and
publishes (paho-mqtt). Nothing listens beyond 127.0.0.1.

    with Broker() as b:                   # Broker(users={"u": "pw"}, tls=(cert, key))
        b.url                             # mqtt://127.0.0.1:PORT (mqtts:// with tls)
        w = b.watch("evse/#")             # a subscriber that keeps what arrives
        w.wait("evse/cp/status")          # the last payload on a topic (waits)
        w.publish("evse/cp/set/current_a", "10")
        b.stop(); b.start()               # broker down and up again, same port

mosquitto comes from Debian (apt-get install mosquitto); .ci/run installs it.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "host_tests"))
from charger import free_port  # noqa: E402

MOSQUITTO = ("/usr/sbin/mosquitto", "mosquitto")


class BrokerError(Exception):
    """One line: what is missing and what to do."""


def mosquitto():
    for m in MOSQUITTO:
        if os.path.exists(m) or shutil.which(m):
            return m if os.path.exists(m) else shutil.which(m)
    raise BrokerError("mosquitto is not installed: apt-get install mosquitto")


class Broker:
    def __init__(self, users=None, tls=None, port=None):
        self.exe = mosquitto()
        self.users = users or {}
        self.tls = tls
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="broker-")
        self.proc = None
        self.watchers = []
        self.url = "%s://127.0.0.1:%d" % ("mqtts" if tls else "mqtt", self.port)
        self._config()

    def _config(self):
        lines = ["listener %d 127.0.0.1" % self.port, "persistence false",
                 "log_dest file %s" % os.path.join(self.dir, "mosquitto.log"),
                 "log_type error", "log_type warning", "log_type notice",
                 "max_keepalive 120"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            # Started as root, mosquitto would become the user "mosquitto",
            # which cannot read this run's files.
            lines.append("user root")
        if self.users:
            pw = os.path.join(self.dir, "passwords")
            for i, (u, p) in enumerate(self.users.items()):
                subprocess.run(["mosquitto_passwd"] + (["-c"] if i == 0 else []) + ["-b", pw, u, p],
                               check=True, capture_output=True, timeout=30)
            lines += ["allow_anonymous false", "password_file " + pw]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            lines += ["certfile " + self.tls[0], "keyfile " + self.tls[1]]
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=10):
        self.proc = subprocess.Popen([self.exe, "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise BrokerError("mosquitto ended at once (exit %s): %s" % (
                    self.proc.returncode, self.log()[-500:]))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise BrokerError("mosquitto did not listen on 127.0.0.1:%d within %d s"
                          % (self.port, timeout))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.dir, "mosquitto.log")) as f:
                return f.read()
        except OSError:
            return ""

    def watch(self, topic="#", **kw):
        w = Watcher(self, topic, **kw)
        self.watchers.append(w)
        return w

    def close(self):
        for w in self.watchers:
            w.close()
        self.watchers = []
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


class Watcher:
    """A paho-mqtt client on the broker: keeps every message that arrives on
    `topic`, in order, and publishes."""

    def __init__(self, broker, topic="#", user=None, password=None, ca=None):
        import paho.mqtt.client as mqtt
        self.lock = threading.Condition()
        self.messages = []          # (topic, payload bytes, retained, time)
        self.last = {}              # topic -> payload bytes
        c = self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if user:
            c.username_pw_set(user, password)
        if broker.tls:
            c.tls_set(ca_certs=ca)
        c.on_message = self._on_message
        c.on_connect = lambda cl, ud, fl, rc, props=None: cl.subscribe(topic)
        c.connect("127.0.0.1", broker.port, keepalive=30)
        c.loop_start()

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain), time.time()))
            self.last[msg.topic] = bytes(msg.payload)
            self.lock.notify_all()

    def wait(self, topic, pred=None, timeout=15, what=None):
        """The last payload on topic once pred(payload bytes) holds (any payload
        without pred); AssertionError naming what was seen on timeout."""
        end = time.time() + timeout
        with self.lock:
            while True:
                v = self.last.get(topic)
                if v is not None and (pred is None or pred(v)):
                    return v
                left = end - time.time()
                if left <= 0:
                    raise AssertionError("no %s on %s within %s s; last %r" % (
                        what or "message", topic, timeout, v))
                self.lock.wait(left)

    def since(self, t, prefix=""):
        with self.lock:
            return [m for m in self.messages if m[3] >= t and m[0].startswith(prefix)]

    def publish(self, topic, payload, retain=False):
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()
