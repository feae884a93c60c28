"""The client address behind the reverse proxy: believed only from proxies we trust."""

from bot.proxy import client_address, trusted_networks

TRUSTED = trusted_networks("127.0.0.1, ::1, 10.0.0.0/8, not-an-address")


def test_a_trusted_proxy_gives_the_client_it_saw() -> None:
    assert client_address("127.0.0.1", "203.0.113.7", TRUSTED) == "203.0.113.7"
    assert client_address("::1", "198.51.100.2, 10.1.2.3", TRUSTED) == "198.51.100.2"


def test_a_forged_header_from_the_client_is_not_believed() -> None:
    # The client wrote "1.1.1.1" itself; the proxy appended the address it really saw.
    assert client_address("127.0.0.1", "1.1.1.1, 203.0.113.7", TRUSTED) == "203.0.113.7"


def test_an_untrusted_peer_is_counted_by_its_own_address() -> None:
    assert client_address("203.0.113.9", "127.0.0.1", TRUSTED) == "203.0.113.9"
    assert client_address("203.0.113.9", None, TRUSTED) == "203.0.113.9"


def test_a_mangled_header_falls_back_to_the_proxy() -> None:
    assert client_address("127.0.0.1", "<script>, ", TRUSTED) == "127.0.0.1"
    assert client_address(None, None, TRUSTED) == "unknown"
