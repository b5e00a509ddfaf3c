"""An FTP server on 127.0.0.1 for the transfer tests (pyftpdlib): one user with
a password, full rights in a folder, passive mode, in a thread of its own."""
import threading

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

USER = "evse"
PASSWORD = "p@ss word"


class Server:
    def __init__(self, folder):
        auth = DummyAuthorizer()
        auth.add_user(USER, PASSWORD, folder, perm="elradfmwMT")

        class Handler(FTPHandler):
            pass
        Handler.authorizer = auth
        Handler.passive_ports = None
        Handler.banner = "test FTP server ready"
        self.server = FTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.socket.getsockname()[1]
        # The password percent-encoded, as a location carries it.
        self.url = "ftp://%s:p%%40ss%%20word@127.0.0.1:%d" % (USER, self.port)
        self._t = threading.Thread(target=self.server.serve_forever,
                                   kwargs={"timeout": 0.2, "blocking": True}, daemon=True)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self.server.close_all()
