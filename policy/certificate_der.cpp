// A minimal, strict DER walker: just enough to prove an input is one DER
// SEQUENCE and to find the TBSCertificate, serial and names as raw bytes,
// which is what the kernel hashes and reads.
#include <string>
#include <vector>

#include "certificate_detail.hpp"

namespace anchord::detail {
namespace {

// A certificate nests about 8 levels deep (an RSA-PSS AlgorithmIdentifier
// is the deepest part); anything much deeper is hostile or broken.
constexpr std::size_t kMaxDepth = 32;

constexpr std::uint8_t kClassMask = 0xc0;
constexpr std::uint8_t kNumberMask = 0x1f;
constexpr std::uint8_t kTagBoolean = 0x01;
constexpr std::uint8_t kTagInteger = 0x02;
constexpr std::uint8_t kTagSequence = 0x30;
constexpr std::uint8_t kTagSet = 0x31;
constexpr std::uint8_t kTagVersion = 0xa0;     // [0] EXPLICIT Version
constexpr std::uint8_t kTagExtensions = 0xa3;  // [3] EXPLICIT Extensions

std::string hex_byte(std::uint8_t b) {
    static constexpr char kDigits[] = "0123456789abcdef";
    return std::string("0x") + kDigits[b >> 4] + kDigits[b & 0x0f];
}

std::string at(std::size_t offset) {
    return " at byte " + std::to_string(offset);
}

// DER forbids what BER allows for primitive values the template decoders
// would otherwise silently normalise.
void check_primitive(ByteView der, const Tlv& t) {
    auto c = t.content(der);
    if (t.tag == kTagBoolean) {
        if (c.size() != 1 || (c[0] != 0x00 && c[0] != 0xff))
            throw EntryProblem("BOOLEAN" + at(t.offset) +
                               " is not encoded as 0x00 or 0xff (BER, not DER)");
    } else if (t.tag == kTagInteger) {
        if (c.empty()) throw EntryProblem("empty INTEGER" + at(t.offset));
        if (c.size() > 1 && ((c[0] == 0x00 && c[1] < 0x80) || (c[0] == 0xff && c[1] >= 0x80)))
            throw EntryProblem("INTEGER" + at(t.offset) +
                               " has redundant leading bytes (BER, not DER)");
    }
}

void check_tag(const Tlv& t) {
    const bool universal = (t.tag & kClassMask) == 0;
    const std::uint8_t number = t.tag & kNumberMask;
    if (!universal) return;
    if (number == 0)
        throw EntryProblem("end-of-contents marker" + at(t.offset) +
                           " (BER indefinite length, not DER)");
    const bool sequence_or_set =
        number == (kTagSequence & kNumberMask) || number == (kTagSet & kNumberMask);
    if (t.constructed() && !sequence_or_set)
        throw EntryProblem("constructed encoding of tag " + hex_byte(t.tag) + at(t.offset) +
                           " (BER, not DER)");
    if (!t.constructed() && sequence_or_set)
        throw EntryProblem("SEQUENCE or SET" + at(t.offset) + " encoded as primitive");
}

// DER leaves out a field equal to its DEFAULT. OpenSSL keeps such a field
// as written when it re-encodes, so this is checked by hand: an explicit
// version v1 and an extension marked critical FALSE.
void check_defaults(ByteView der, const Tlv& tbs, std::size_t after_subject) {
    if (read_tlv(der, tbs.content_offset(), tbs.end()).tag == kTagVersion) {
        const Tlv version = read_tlv(der, tbs.content_offset(), tbs.end());
        const Tlv number = read_tlv(der, version.content_offset(), version.end());
        const ByteView value = number.content(der);
        if (number.tag == kTagInteger && value.size() == 1 && value[0] == 0)
            throw EntryProblem("the version is the DEFAULT v1 written out (not DER)");
    }
    for (std::size_t pos = after_subject; pos < tbs.end();) {
        const Tlv field = read_tlv(der, pos, tbs.end());
        pos = field.end();
        if (field.tag != kTagExtensions) continue;
        const Tlv list = read_tlv(der, field.content_offset(), field.end());
        std::size_t number = 0;
        for (std::size_t e = list.content_offset(); e < list.end();) {
            const Tlv ext = read_tlv(der, e, list.end());
            e = ext.end();
            ++number;
            const Tlv oid = read_tlv(der, ext.content_offset(), ext.end());
            if (oid.end() >= ext.end()) continue;
            const Tlv second = read_tlv(der, oid.end(), ext.end());
            if (second.tag == kTagBoolean && second.length == 1 &&
                der[second.content_offset()] == 0) {
                throw EntryProblem("extension " + std::to_string(number) +
                                   " writes out the DEFAULT critical FALSE (not DER)");
            }
        }
    }
}

}  // namespace

Tlv read_tlv(ByteView der, std::size_t offset, std::size_t limit) {
    if (limit > der.size()) limit = der.size();
    if (offset >= limit || limit - offset < 2)
        throw EntryProblem("truncated: element header" + at(offset) + " is cut off");
    Tlv t;
    t.offset = offset;
    t.tag = der[offset];
    if ((t.tag & kNumberMask) == kNumberMask)
        throw EntryProblem("high tag number form" + at(offset) + " is not used in certificates");
    const std::uint8_t first = der[offset + 1];
    if (first < 0x80) {
        t.header = 2;
        t.length = first;
    } else if (first == 0x80) {
        throw EntryProblem("indefinite length" + at(offset) + " (BER, not DER)");
    } else {
        const std::size_t count = first & 0x7f;
        if (count > 4)
            throw EntryProblem("length field of " + std::to_string(count) + " bytes" + at(offset));
        if (limit - offset - 2 < count)
            throw EntryProblem("truncated: length field" + at(offset) + " is cut off");
        if (der[offset + 2] == 0)
            throw EntryProblem("length" + at(offset) +
                               " has leading zero bytes (not minimal, not DER)");
        std::size_t length = 0;
        for (std::size_t i = 0; i < count; ++i) length = length << 8 | der[offset + 2 + i];
        if (length < 0x80)
            throw EntryProblem("length " + std::to_string(length) + at(offset) +
                               " uses the long form (not minimal, not DER)");
        t.header = 2 + count;
        t.length = length;
    }
    if (limit - offset - t.header < t.length) {
        throw EntryProblem("truncated: element" + at(offset) + " claims " +
                           std::to_string(t.length) + " bytes but only " +
                           std::to_string(limit - offset - t.header) + " follow");
    }
    return t;
}

Tlv check_der_structure(ByteView der) {
    if (der.empty()) throw EntryProblem("no bytes");
    const Tlv outer = read_tlv(der, 0, der.size());
    if (outer.tag != kTagSequence)
        throw EntryProblem("starts with tag " + hex_byte(outer.tag) + ", not a SEQUENCE");
    if (outer.end() != der.size()) {
        const std::size_t extra = der.size() - outer.end();
        throw EntryProblem(std::to_string(extra) + (extra == 1 ? " byte" : " bytes") +
                           " of trailing data after the certificate's " +
                           std::to_string(outer.end()) + " bytes");
    }
    // Iterative walk: `open` holds the end offsets of the enclosing elements.
    std::vector<std::size_t> open{outer.end()};
    std::size_t pos = outer.content_offset();
    while (!open.empty()) {
        if (pos == open.back()) {
            open.pop_back();
            continue;
        }
        const Tlv t = read_tlv(der, pos, open.back());
        check_tag(t);
        if (t.constructed()) {
            if (open.size() >= kMaxDepth)
                throw EntryProblem("ASN.1 nested deeper than " + std::to_string(kMaxDepth) +
                                   " levels" + at(t.offset));
            open.push_back(t.end());
            pos = t.content_offset();
        } else {
            check_primitive(der, t);
            pos = t.end();
        }
    }
    return outer;
}

TbsLayout locate_tbs(ByteView der, const Tlv& outer) {
    TbsLayout l;
    l.tbs = read_tlv(der, outer.content_offset(), outer.end());
    if (l.tbs.tag != kTagSequence) throw EntryProblem("the TBSCertificate is not a SEQUENCE");
    std::size_t pos = l.tbs.content_offset();
    auto next = [&](std::uint8_t tag, const char* what) {
        Tlv t = read_tlv(der, pos, l.tbs.end());
        if (t.tag != tag) throw EntryProblem(std::string("the TBSCertificate has no ") + what);
        pos = t.end();
        return t;
    };
    if (read_tlv(der, pos, l.tbs.end()).tag == kTagVersion) next(kTagVersion, "version");
    l.serial = next(kTagInteger, "serial number");
    next(kTagSequence, "signature algorithm");
    l.issuer = next(kTagSequence, "issuer");
    next(kTagSequence, "validity");
    l.subject = next(kTagSequence, "subject");
    check_defaults(der, l.tbs, pos);
    return l;
}

std::string quote(ByteView bytes, std::size_t max) {
    std::string out = "\"";
    for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
        const std::uint8_t b = bytes[i];
        if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') {
            out.push_back(static_cast<char>(b));
        } else {
            out += "\\x" + hex_byte(b).substr(2);
        }
    }
    out += bytes.size() > max ? "\"..." : "\"";
    return out;
}

}  // namespace anchord::detail
