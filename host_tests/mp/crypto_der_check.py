# lib/der.py, lib/pem.py and lib/dn.py, run under MicroPython and CPython by
# test_crypto_der.py. Prints PASS/FAIL lines and DONE.
import der
import dn
import pem
from crypto_cases import done, expect, refused


def dec_int(b):
    s, e = der.expect(b, 0, len(b), der.INTEGER, "n")
    return der.uint(b, s, e)


vals = [0, 1, 127, 128, 255, 256, 65535, 65536, (1 << 255) + 7, (1 << 2048) - 1]
expect("integer_round_trip", all(dec_int(der.integer(v)) == v for v in vals),
       [der.integer(v).hex() for v in vals[:6]])
expect("integer_encodings", der.integer(0) == b"\x02\x01\x00" and der.integer(128) == b"\x02\x02\x00\x80"
       and der.integer(256) == b"\x02\x02\x01\x00")
long_value = b"\xaa" * 300
t, s, e = der.tlv(der.octet_string(long_value), 0, 304)
expect("long_length", (t, s, e) == (4, 4, 304) and der.head(4, 300) == b"\x04\x82\x01\x2c",
       (t, s, e))
for dotted, hexed in (("1.2.840.10045.2.1", "06072a8648ce3d0201"),
                      ("2.5.4.3", "0603550403"),
                      ("2.16.840.1.101.3.4.2.1", "0609608648016503040201"),
                      ("2.999.3", "0603883703")):
    o = der.oid(dotted)
    expect("oid_" + dotted, o.hex() == hexed and der.oid_str(o, 2, len(o)) == dotted,
           (o.hex(), der.oid_str(o, 2, len(o))))
u = der.utf8("Zähler €")
expect("utf8_round_trip", der.text(u, der.UTF8_STRING, 2, len(u)) == "Zähler €")
bmp = b"\x1e\x04\x00\x41\x20\xac"
expect("bmp_string", der.text(bmp, der.BMP_STRING, 2, 6) == "A\u20ac")
refused("printable_refuses_at", lambda: der.printable("a@b"), "PrintableString")
flags = b"\x03\x02\x05\xa0"     # digitalSignature (0) and keyEncipherment (2)
expect("named_bits", der.named_bits(flags, 2, 4) == 0b101, der.named_bits(flags, 2, 4))
expect("set_of_sorted", der.set_of(b"\x02\x01\x02", b"\x02\x01\x01") == b"\x31\x06\x02\x01\x01\x02\x01\x02")


def t_(tag, text):
    b = der.enc(tag, text.encode())
    return der.time(b, tag, 2, len(b))


expect("utctime_2025", t_(der.UTC_TIME, "250102030405Z") == 1735787045, t_(der.UTC_TIME, "250102030405Z"))
expect("utctime_1950", t_(der.UTC_TIME, "500101000000Z") == -631152000)
expect("utctime_2049", t_(der.UTC_TIME, "491231235959Z") == 2524607999)
expect("generalized_2050", t_(der.GENERALIZED_TIME, "20500101000000Z") == 2524608000)
expect("leap_day", t_(der.GENERALIZED_TIME, "20240229120000Z") == 1709208000)
refused("time_no_leap_2023", lambda: t_(der.GENERALIZED_TIME, "20230229120000Z"), "out of range")
refused("time_month_13", lambda: t_(der.UTC_TIME, "251302030405Z"), "out of range")
refused("time_without_z", lambda: t_(der.UTC_TIME, "2501020304050"), "DER form")
refused("time_with_offset", lambda: t_(der.UTC_TIME, "2501020304+0100"), "DER form")
refused("time_fraction", lambda: t_(der.GENERALIZED_TIME, "20250102030405.5Z"), "DER form")
refused("time_letters", lambda: t_(der.UTC_TIME, "25010203040aZ"), "DER form")
refused("time_wrong_tag", lambda: t_(der.UTF8_STRING, "250102030405Z"), "DER form")

# Strictness: each defect one ValueError that says what it is.
seq = der.seq(der.integer(5), der.utf8("x"))
refused("truncated", lambda: der.tlv(seq[:4], 0, 4), "runs past the end")
refused("truncated_header", lambda: der.tlv(b"\x30", 0, 1), "truncated")
refused("indefinite", lambda: der.tlv(b"\x30\x80\x00\x00", 0, 4), "indefinite")
refused("non_minimal_length", lambda: der.tlv(b"\x04\x81\x05abcde", 0, 8), "shortest form")
refused("non_minimal_length_zero", lambda: der.tlv(b"\x04\x82\x00\x85" + bytes(0x85), 0, 0x89),
        "shortest form")
refused("length_of_length", lambda: der.tlv(b"\x04\x84\x01\x00\x00\x00", 0, 6), "length of 4")
refused("truncated_length", lambda: der.tlv(b"\x04\x82\x01", 0, 3), "truncated length")
refused("multi_byte_tag", lambda: der.tlv(b"\x1f\x81\x01\x00", 0, 4), "multi-byte tag")
refused("past_parent", lambda: der.tlv(b"\x30\x05\x02\x03\x01\x02\x03", 2, 5), "runs past")
refused("wrong_tag", lambda: der.expect(seq, 0, len(seq), der.SET, "the set"),
        "the set at offset 0: tag 0x30 where 0x31 belongs")
refused("int_leading_zero", lambda: dec_int(b"\x02\x02\x00\x05"), "leading zero")
refused("int_negative", lambda: dec_int(b"\x02\x01\x85"), "negative")
refused("int_empty", lambda: dec_int(b"\x02\x00"), "empty")
refused("boolean_not_ff", lambda: der.boolean(b"\x01", 0, 1), "0xff")
refused("bits_unused", lambda: der.bits(b"\x03\x03\x01\xaa\xaa", 2, 5), "unused bits")
refused("named_bits_bad", lambda: der.named_bits(b"\x08\x00", 0, 2), "bad BIT STRING")
refused("bad_utf8", lambda: der.text(b"\xc3\x28", der.UTF8_STRING, 0, 2), "not UTF-8")
refused("not_a_string", lambda: der.text(b"\x01", der.INTEGER, 0, 1), "not a string")
kids = [(t, s, e) for t, s, e, _ in der.items(seq, 2, len(seq))]
expect("items", kids == [(2, 4, 5), (0x0c, 7, 8)], kids)

# PEM
blob = bytes(range(256)) * 3
text = pem.encode(blob, "CERTIFICATE")
lines = text.split("\n")
expect("pem_lines", lines[0] == "-----BEGIN CERTIFICATE-----" and len(lines[1]) == 64
       and lines[-2] == "-----END CERTIFICATE-----" and text.endswith("\n"), lines[:2])
expect("pem_round_trip", pem.decode(text) == [blob])
two = "junk before\n" + text + "between\n" + pem.encode(b"\x30\x00") + "after"
expect("pem_two_blocks", pem.decode(two) == [blob, b"\x30\x00"])
expect("pem_bytes_and_crlf", pem.decode(text.replace("\n", "\r\n").encode()) == [blob])
expect("pem_other_label_ignored", pem.decode(two.replace("BEGIN CERTIFICATE-----\nMAA",
                                                         "BEGIN X-----\nMAA"), "CERTIFICATE")
       == [blob])
refused("pem_no_end", lambda: pem.decode(text[:-30]), "block 1 has no END line")
refused("pem_not_base64", lambda: pem.decode(text.replace(lines[2][:4], "@@@@")), "not base64")
refused("pem_none", lambda: pem.decode("hello", "CERTIFICATE REQUEST"),
        "no CERTIFICATE REQUEST block")
refused("pem_limit", lambda: pem.decode(text * 3, limit=2), "more than 2")

# Distinguished names
pairs = [("C", "DE"), ("O", "Stadtwerke Süd"), ("OU", "Ladesäulen"), ("CN", "CP-0001")]
name = dn.encode(pairs)
expect("dn_round_trip", dn.decode(name, 0, len(name)) == pairs, dn.decode(name, 0, len(name)))
expect("dn_country_printable", name[11:15] == b"\x13\x02DE")
expect("dn_text", dn.text(pairs[:1] + pairs[3:]) == "C=DE, CN=CP-0001" and dn.text([]) == "empty name")
other = der.seq(der.set_of(der.seq(der.oid("1.2.3.4"), der.utf8("x"))))
expect("dn_other_attribute", dn.decode(other, 0, len(other)) == [("1.2.3.4", "x")])
refused("dn_unknown_attribute", lambda: dn.encode([("XX", "y")]), "unknown attribute 'XX'")
refused("dn_country_code", lambda: dn.encode([("C", "de")]), "two-letter country code")
refused("dn_too_long", lambda: dn.encode([("CN", "x" * 65)]), "CN must have 1 to 64")
refused("dn_not_a_set", lambda: dn.decode(der.seq(der.seq()), 0, 4), "not a SET")
done()
