import zlib

from pipelines import apikeys


def test_generated_keys_are_well_formed_and_distinct():
    keys = {apikeys.generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert len(key) == 53 and key.startswith("api_")
        assert apikeys.is_well_formed(key)


def test_the_checksum_is_the_crc32_of_the_payload():
    key = apikeys.generate_key()
    body = key[4:]
    n = 0
    for ch in body[:43]:
        n = n * 62 + apikeys.BASE62.index(ch)
    crc = zlib.crc32(n.to_bytes(32, "big"))
    m = 0
    for ch in body[43:]:
        m = m * 62 + apikeys.BASE62.index(ch)
    assert m == crc


def test_malformed_keys_are_refused():
    key = apikeys.generate_key()
    assert not apikeys.is_well_formed(key[:-1])
    assert not apikeys.is_well_formed(key + "A")
    assert not apikeys.is_well_formed(key[:10] + "-" + key[11:])
    flipped = key[:-1] + ("B" if key[-1] != "B" else "C")
    assert not apikeys.is_well_formed(flipped)
    assert not apikeys.is_well_formed("api_" + "9" * 49)  # payload over 2^256


def test_digest_does_not_contain_the_key_and_hint_is_short():
    key = apikeys.generate_key()
    assert key not in apikeys.digest(key) and key[4:] not in apikeys.digest(key)
    assert len(apikeys.digest(key)) == 64
    assert apikeys.hint(key).startswith(key[4:8]) and apikeys.hint(key).endswith(key[-6:])
