// The policy file: parsing, validation, the effective policy and its JSON.
//
// A policy is resolved from two layers, the user's file over the built-in
// default (policy/default-policy.json, compiled in; default_policy_text() is
// defined in the file CMake generates from it). Each layer is first read into
// optional fields, so that "absent" stays distinct from "set to the default"
// until resolution, and errors point at what the user actually wrote.
#include <openssl/ec.h>
#include <openssl/objects.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "anchord/certificate.hpp"
#include "anchord/error.hpp"
#include "anchord/policy.hpp"
#include "anchord/types.hpp"

namespace anchord {
namespace {

// Ordered, so that errors and the printed policy follow the file's order.
using Json = nlohmann::ordered_json;

// A policy is a few kilobytes; these bounds only keep hostile input from
// costing memory or stack.
constexpr std::size_t kMaxPolicyBytes = 1024 * 1024;
constexpr std::size_t kMaxNesting = 32;
constexpr std::int64_t kMaxKeyBits = 16384;
constexpr std::int64_t kMaxChainDepth = 16;
constexpr std::int64_t kMaxClockSkewSeconds = 24 * 60 * 60;
constexpr std::size_t kMaxKernelKeyringName = 255;
constexpr std::size_t kMaxQuotedValue = 80;
constexpr int kSupportedVersion = 1;

// ---------------------------------------------------------------------------
// Names

template <typename E, std::size_t N>
using NameTable = std::array<std::pair<E, std::string_view>, N>;

constexpr NameTable<KeyringRole, 2> kRoleNames{{
    {KeyringRole::Ca, "ca"},
    {KeyringRole::Signing, "signing"},
}};

constexpr NameTable<CaEnforcement, 3> kCaEnforcementNames{{
    {CaEnforcement::None, "none"},
    {CaEnforcement::Ca, "ca"},
    {CaEnforcement::CaMax, "ca-max"},
}};

constexpr NameTable<KernelRestriction, 3> kRestrictionNames{{
    {KernelRestriction::None, "none"},
    {KernelRestriction::BuiltinTrusted, "builtin_trusted"},
    {KernelRestriction::BuiltinAndSecondaryTrusted, "builtin_and_secondary_trusted"},
}};

template <typename E, std::size_t N>
std::string_view name_in(const NameTable<E, N>& table, E value) noexcept {
    for (const auto& [v, name] : table) {
        if (v == value) return name;
    }
    return "?";
}

template <typename E, std::size_t N>
std::optional<E> value_in(const NameTable<E, N>& table, std::string_view name) noexcept {
    for (const auto& [v, n] : table) {
        if (n == name) return v;
    }
    return std::nullopt;
}

// "\"a\", \"b\" or \"c\""
std::string alternatives(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
        out += '"' + names[i] + '"';
    }
    return out;
}

template <typename E, std::size_t N>
std::string alternatives(const NameTable<E, N>& table) {
    std::vector<std::string> names;
    for (const auto& [v, name] : table) names.emplace_back(name);
    return alternatives(names);
}

constexpr std::array<KeyAlgorithm, 10> kKnownKeyAlgorithms{
    KeyAlgorithm::Rsa,     KeyAlgorithm::RsaPss, KeyAlgorithm::Ecdsa,   KeyAlgorithm::Ed25519,
    KeyAlgorithm::Ed448,   KeyAlgorithm::Dsa,    KeyAlgorithm::MlDsa44, KeyAlgorithm::MlDsa65,
    KeyAlgorithm::MlDsa87, KeyAlgorithm::Sm2,
};

constexpr std::array<HashAlgorithm, 9> kAcceptableHashes{
    HashAlgorithm::None,     HashAlgorithm::Sha224,   HashAlgorithm::Sha256,
    HashAlgorithm::Sha384,   HashAlgorithm::Sha512,   HashAlgorithm::Sha3_256,
    HashAlgorithm::Sha3_384, HashAlgorithm::Sha3_512, HashAlgorithm::Sm3,
};

constexpr int kKeyUsageBits = 9;  // digitalSignature (bit 0) .. decipherOnly (bit 8)

std::string key_usage_names() {
    std::vector<std::string> names;
    for (int i = 0; i < kKeyUsageBits; ++i) {
        names.emplace_back(key_usage_name(static_cast<std::uint16_t>(1u << i)));
    }
    return alternatives(names);
}

// ---------------------------------------------------------------------------
// JSON pointers and the node reader

std::string pointer_token(std::string_view token) {
    std::string out;
    for (char c : token) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

std::string keyring_pointer(LogicalKeyring k, std::string_view field) {
    return "/keyrings/" + std::string(to_string(k)) + "/" + std::string(field);
}

[[noreturn]] void fail_at(const std::string& pointer, const std::string& what) {
    throw Error(ErrorCode::InvalidPolicy, pointer + ": " + what);
}

// The value as it was written, cut short: messages quote the bad value.
std::string quote(const Json& value) {
    std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (text.size() > kMaxQuotedValue) text = text.substr(0, kMaxQuotedValue - 3) + "...";
    return text;
}

std::string quote_text(std::string_view text) {
    return quote(Json(std::string(text)));
}

// A value of the parsed document together with its JSON pointer, so that
// every error can name where it is.
class Node {
  public:
    Node(const Json& value, std::string pointer) : value_(value), pointer_(std::move(pointer)) {}

    const Json& json() const noexcept { return value_; }
    const std::string& pointer() const noexcept { return pointer_; }

    [[noreturn]] void fail(const std::string& what) const { fail_at(pointer_, what); }

    Node member(const std::string& key) const {
        return Node(value_.at(key), pointer_ + "/" + pointer_token(key));
    }
    Node element(std::size_t index) const {
        return Node(value_.at(index), pointer_ + "/" + std::to_string(index));
    }

    void require_object() const {
        if (!value_.is_object()) fail("expected an object, got " + quote(value_));
    }
    void require_array() const {
        if (!value_.is_array()) fail("expected an array, got " + quote(value_));
    }
    bool boolean() const {
        if (!value_.is_boolean()) fail("expected true or false, got " + quote(value_));
        return value_.get<bool>();
    }
    const std::string& string() const {
        if (!value_.is_string()) fail("expected a string, got " + quote(value_));
        return value_.get_ref<const std::string&>();
    }
    std::int64_t integer(std::int64_t min, std::int64_t max) const {
        if (!value_.is_number_integer()) fail("expected an integer, got " + quote(value_));
        // nlohmann keeps non-negative numbers unsigned, up to 2^64-1: compare
        // before converting, so that a huge number cannot wrap into range.
        bool in_range = false;
        std::int64_t v = 0;
        if (value_.is_number_unsigned()) {
            auto u = value_.get<std::uint64_t>();
            if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                v = static_cast<std::int64_t>(u);
                in_range = v >= min && v <= max;
            }
        } else {
            v = value_.get<std::int64_t>();
            in_range = v >= min && v <= max;
        }
        if (!in_range) {
            fail("expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                 ", got " + quote(value_));
        }
        return v;
    }

    template <typename E, std::size_t N>
    E choice(const NameTable<E, N>& table) const {
        if (value_.is_string()) {
            if (auto v = value_in(table, string())) return *v;
        }
        fail("expected " + alternatives(table) + ", got " + quote(value_));
    }

    // Calls read(index, node) for each element of an array of strings.
    template <typename F>
    void each_string(F&& read) const {
        require_array();
        for (std::size_t i = 0; i < value_.size(); ++i) {
            Node e = element(i);
            read(i, e, e.string());
        }
    }

  private:
    const Json& value_;
    std::string pointer_;
};

constexpr std::array<std::string_view, 5> kRuleFieldNames{
    "algorithms", "hashes", "enforce_validity", "clock_skew", "max_chain_depth"};

// `known` lists the object's own fields; `with_rule_fields` adds the rule
// fields. "comment" is allowed in every object that lists this error.
[[noreturn]] void unknown_field(const Node& field, std::initializer_list<std::string_view> known,
                                bool with_rule_fields = false) {
    std::vector<std::string> names(known.begin(), known.end());
    if (with_rule_fields) names.insert(names.end(), kRuleFieldNames.begin(), kRuleFieldNames.end());
    names.emplace_back("comment");
    field.fail("unknown field; expected one of " + alternatives(names));
}

// ---------------------------------------------------------------------------
// Reading the text: syntax, duplicate keys, nesting

// nlohmann keeps the last of two equal keys without a word; in a policy that
// would let a second "enrollable" silently win, so duplicates are refused.
// This follows the parser's events to know the pointer of each key.
class KeyTracker {
  public:
    bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
        switch (event) {
            case Json::parse_event_t::object_start:
                enter(true);
                break;
            case Json::parse_event_t::array_start:
                enter(false);
                break;
            case Json::parse_event_t::key: {
                Frame& top = frames_.back();
                const auto& key = parsed.get_ref<const std::string&>();
                if (!top.keys.insert(key).second) {
                    fail_at(pointer(frames_.size() - 1) + "/" + pointer_token(key),
                            "duplicate key " + quote_text(key));
                }
                top.key = key;
                break;
            }
            case Json::parse_event_t::object_end:
            case Json::parse_event_t::array_end:
                frames_.pop_back();
                element_done();
                break;
            case Json::parse_event_t::value:
                element_done();
                break;
        }
        return true;
    }

  private:
    struct Frame {
        bool object = false;
        std::set<std::string> keys;
        std::string key;        // objects: the member being read
        std::size_t index = 0;  // arrays: the element being read
    };

    void enter(bool object) {
        if (frames_.size() >= kMaxNesting) {
            fail_at(pointer(frames_.size()),
                    "nested deeper than " + std::to_string(kMaxNesting) + " levels");
        }
        frames_.push_back(Frame{object, {}, {}, 0});
    }
    void element_done() {
        if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    }
    std::string pointer(std::size_t depth) const {
        std::string out;
        for (std::size_t i = 0; i < depth; ++i) {
            const Frame& f = frames_[i];
            out += "/" + (f.object ? pointer_token(f.key) : std::to_string(f.index));
        }
        return out;
    }

    std::vector<Frame> frames_;
};

Json read_json(std::string_view text) {
    if (text.size() > kMaxPolicyBytes) {
        throw Error(ErrorCode::InvalidPolicy, "policy is " + std::to_string(text.size()) +
                                                  " bytes; the limit is " +
                                                  std::to_string(kMaxPolicyBytes));
    }
    KeyTracker tracker;
    try {
        return Json::parse(
            text.begin(), text.end(),
            [&tracker](int depth, Json::parse_event_t event, Json& parsed) {
                return tracker(depth, event, parsed);
            },
            /*allow_exceptions=*/true, /*ignore_comments=*/false);
    } catch (const Json::parse_error& e) {
        // e.byte counts from 1: the byte at which the parser gave up.
        std::size_t at = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
        std::string_view before = text.substr(0, at);
        std::size_t line =
            1 + static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n'));
        std::size_t line_start = before.rfind('\n');
        std::size_t column = at - (line_start == std::string_view::npos ? 0 : line_start + 1) + 1;
        // Keep nlohmann's reason ("syntax error while parsing object key - ..."),
        // drop its own prefix, which repeats the position.
        std::string reason = e.what();
        if (auto at = reason.find("column "); at != std::string::npos) {
            if (auto colon = reason.find(": ", at); colon != std::string::npos) {
                reason = reason.substr(colon + 2);
            }
        }
        throw Error(ErrorCode::InvalidPolicy, "invalid JSON at line " + std::to_string(line) +
                                                  ", column " + std::to_string(column) + " (byte " +
                                                  std::to_string(e.byte) + "): " + reason);
    } catch (const Json::out_of_range& e) {
        // A number no JSON number type can hold ("1e999") is not a parse
        // error to nlohmann but out_of_range, with no position; its reason
        // quotes the number.
        std::string reason = e.what();
        if (auto end = reason.find("] "); end != std::string::npos) reason.erase(0, end + 2);
        throw Error(ErrorCode::InvalidPolicy, "invalid JSON: " + reason);
    }
}

// ---------------------------------------------------------------------------
// One layer: the fields a file sets

struct RuleFields {
    std::optional<std::vector<AlgorithmRule>> algorithms;
    std::optional<std::vector<HashAlgorithm>> hashes;
    std::optional<bool> enforce_validity;
    std::optional<std::chrono::seconds> clock_skew;
    std::optional<int> max_chain_depth;
};

struct KeyringFields {
    std::optional<std::string> kernel_keyring;
    std::optional<KeyringRole> role;
    std::optional<bool> enrollable;
    std::optional<std::vector<LogicalKeyring>> trusted_by;
    std::optional<std::vector<Fingerprint>> pinned_issuers;
    std::optional<CaEnforcement> ca_enforcement;
    std::optional<bool> allow_ca;
    std::optional<bool> allow_leaf;
    std::optional<std::uint16_t> required_usage;
    std::optional<std::uint16_t> forbidden_usage;
    std::optional<KernelRestriction> create_restriction;
    RuleFields rules;
};

struct Layer {
    RuleFields defaults;
    std::map<LogicalKeyring, KeyringFields> keyrings;
    Denylist deny;
};

// A curve as PublicKeyInfo names it: the NIST name where there is one
// ("P-256"), else OpenSSL's short name ("secp256k1", "brainpoolP256r1").
void check_curve(const Node& node, const std::string& name) {
    if (EC_curve_nist2nid(name.c_str()) != NID_undef) return;
    int nid = OBJ_sn2nid(name.c_str());
    bool is_curve = false;
    if (nid != NID_undef) {
        std::size_t count = EC_get_builtin_curves(nullptr, 0);
        std::vector<EC_builtin_curve> curves(count);
        EC_get_builtin_curves(curves.data(), count);
        is_curve = std::any_of(curves.begin(), curves.end(),
                               [nid](const EC_builtin_curve& c) { return c.nid == nid; });
    }
    if (!is_curve) {
        node.fail("unknown elliptic curve " + quote_text(name) +
                  "; use NIST names (\"P-256\", \"P-384\", \"P-521\") or OpenSSL's short name");
    }
    if (const char* nist = EC_curve_nid2nist(nid)) {
        // Certificates report this curve by its NIST name: the alias would never match.
        node.fail("write " + quote_text(nist) + " for the curve " + quote_text(name));
    }
}

AlgorithmRule read_algorithm_rule(const Node& node, KeyAlgorithm algorithm) {
    AlgorithmRule rule;
    rule.algorithm = algorithm;
    node.require_object();
    for (auto it = node.json().begin(); it != node.json().end(); ++it) {
        Node field = node.member(it.key());
        if (it.key() == "min_bits") {
            rule.min_bits = static_cast<int>(field.integer(1, kMaxKeyBits));
        } else if (it.key() == "curves") {
            if (algorithm != KeyAlgorithm::Ecdsa) {
                field.fail("curves apply to \"ecdsa\" only, not " +
                           quote_text(std::string(to_string(algorithm))));
            }
            field.each_string([&](std::size_t, const Node& e, const std::string& name) {
                check_curve(e, name);
                if (std::find(rule.curves.begin(), rule.curves.end(), name) != rule.curves.end()) {
                    e.fail("curve " + quote_text(name) + " is listed twice");
                }
                rule.curves.push_back(name);
            });
            if (rule.curves.empty()) {
                field.fail("lists no curve; leave \"curves\" out to allow any curve");
            }
        } else if (it.key() == "comment") {
            field.string();
        } else {
            unknown_field(field, {"min_bits", "curves"});
        }
    }
    return rule;
}

std::vector<AlgorithmRule> read_algorithms(const Node& node) {
    node.require_object();
    if (node.json().empty()) {
        node.fail("allows no algorithm; name at least one, e.g. {\"rsa\": {\"min_bits\": 2048}}");
    }
    std::vector<AlgorithmRule> rules;
    for (auto it = node.json().begin(); it != node.json().end(); ++it) {
        Node rule = node.member(it.key());
        auto algorithm = parse_key_algorithm(it.key());
        if (!algorithm || *algorithm == KeyAlgorithm::Unknown) {
            std::vector<std::string> known;
            for (auto a : kKnownKeyAlgorithms) known.emplace_back(to_string(a));
            rule.fail("unknown key algorithm " + quote_text(it.key()) + "; expected " +
                      alternatives(known));
        }
        rules.push_back(read_algorithm_rule(rule, *algorithm));
    }
    return rules;
}

std::vector<HashAlgorithm> read_hashes(const Node& node) {
    std::vector<HashAlgorithm> hashes;
    node.each_string([&](std::size_t, const Node& e, const std::string& name) {
        auto hash = parse_hash_algorithm(name);
        if (hash == HashAlgorithm::Md5 || hash == HashAlgorithm::Sha1) {
            e.fail("hash " + quote_text(name) + " is refused: its collisions are practical");
        }
        if (!hash || std::find(kAcceptableHashes.begin(), kAcceptableHashes.end(), *hash) ==
                         kAcceptableHashes.end()) {
            std::vector<std::string> known;
            for (auto h : kAcceptableHashes) known.emplace_back(to_string(h));
            e.fail("unknown hash " + quote_text(name) + "; expected " + alternatives(known));
        }
        if (std::find(hashes.begin(), hashes.end(), *hash) != hashes.end()) {
            e.fail("hash " + quote_text(name) + " is listed twice");
        }
        hashes.push_back(*hash);
    });
    if (hashes.empty()) node.fail("allows no hash: no certificate could ever pass");
    return hashes;
}

std::uint16_t read_usage(const Node& node) {
    std::uint16_t bits = 0;
    node.each_string([&](std::size_t, const Node& e, const std::string& name) {
        auto bit = parse_key_usage(name);
        if (!bit)
            e.fail("unknown key usage " + quote_text(name) + "; expected " + key_usage_names());
        if (bits & *bit) e.fail("key usage " + quote_text(name) + " is listed twice");
        bits = static_cast<std::uint16_t>(bits | *bit);
    });
    return bits;
}

std::vector<LogicalKeyring> read_keyring_list(const Node& node) {
    std::vector<LogicalKeyring> keyrings;
    node.each_string([&](std::size_t, const Node& e, const std::string& name) {
        auto k = parse_logical_keyring(name);
        if (!k) {
            std::vector<std::string> known;
            for (auto kr : kAllLogicalKeyrings) known.emplace_back(to_string(kr));
            e.fail("unknown keyring " + quote_text(name) + "; expected " + alternatives(known));
        }
        if (std::find(keyrings.begin(), keyrings.end(), *k) != keyrings.end()) {
            e.fail("keyring " + quote_text(name) + " is listed twice");
        }
        keyrings.push_back(*k);
    });
    return keyrings;
}

std::vector<Fingerprint> read_pins(const Node& node) {
    std::vector<Fingerprint> pins;
    node.each_string([&](std::size_t, const Node& e, const std::string& text) {
        auto fp = Fingerprint::parse(text);
        if (!fp)
            e.fail("expected a fingerprint \"sha256:<64 hex digits>\", got " + quote_text(text));
        if (std::find(pins.begin(), pins.end(), *fp) != pins.end()) {
            e.fail("fingerprint " + quote_text(text) + " is listed twice");
        }
        pins.push_back(*fp);
    });
    return pins;
}

std::string read_kernel_keyring(const Node& node) {
    const std::string& name = node.string();
    if (name.empty()) node.fail("the kernel keyring's name is empty");
    if (name.size() > kMaxKernelKeyringName) {
        node.fail("the kernel keyring's name is longer than " +
                  std::to_string(kMaxKernelKeyringName) + " characters");
    }
    // Printable ASCII without spaces: a name that can be typed to keyctl as it is.
    for (char c : name) {
        if (c <= ' ' || c > '~') {
            node.fail("the kernel keyring's name " + quote_text(name) +
                      " has a space, control or non-ASCII character");
        }
    }
    return name;
}

// Reads one rule field into `rules`; false when `key` is not a rule field.
bool read_rule_field(const std::string& key, const Node& field, RuleFields& rules) {
    if (key == "algorithms") {
        rules.algorithms = read_algorithms(field);
    } else if (key == "hashes") {
        rules.hashes = read_hashes(field);
    } else if (key == "enforce_validity") {
        rules.enforce_validity = field.boolean();
    } else if (key == "clock_skew") {
        rules.clock_skew = std::chrono::seconds(field.integer(0, kMaxClockSkewSeconds));
    } else if (key == "max_chain_depth") {
        rules.max_chain_depth = static_cast<int>(field.integer(1, kMaxChainDepth));
    } else {
        return false;
    }
    return true;
}

RuleFields read_defaults(const Node& node) {
    node.require_object();
    RuleFields rules;
    for (auto it = node.json().begin(); it != node.json().end(); ++it) {
        Node field = node.member(it.key());
        if (it.key() == "comment") {
            field.string();
        } else if (!read_rule_field(it.key(), field, rules)) {
            unknown_field(field, {}, true);
        }
    }
    return rules;
}

KeyringFields read_keyring(const Node& node) {
    node.require_object();
    KeyringFields k;
    for (auto it = node.json().begin(); it != node.json().end(); ++it) {
        const std::string& key = it.key();
        Node field = node.member(key);
        if (key == "kernel_keyring") {
            k.kernel_keyring = read_kernel_keyring(field);
        } else if (key == "role") {
            k.role = field.choice(kRoleNames);
        } else if (key == "enrollable") {
            k.enrollable = field.boolean();
        } else if (key == "trusted_by") {
            k.trusted_by = read_keyring_list(field);
        } else if (key == "pinned_issuers") {
            k.pinned_issuers = read_pins(field);
        } else if (key == "ca_enforcement") {
            k.ca_enforcement = field.choice(kCaEnforcementNames);
        } else if (key == "allow_ca") {
            k.allow_ca = field.boolean();
        } else if (key == "allow_leaf") {
            k.allow_leaf = field.boolean();
        } else if (key == "required_usage") {
            k.required_usage = read_usage(field);
        } else if (key == "forbidden_usage") {
            k.forbidden_usage = read_usage(field);
        } else if (key == "create_restriction") {
            k.create_restriction = field.choice(kRestrictionNames);
        } else if (key == "comment") {
            field.string();
        } else if (!read_rule_field(key, field, k.rules)) {
            unknown_field(field,
                          {"kernel_keyring", "role", "enrollable", "trusted_by", "pinned_issuers",
                           "ca_enforcement", "allow_ca", "allow_leaf", "required_usage",
                           "forbidden_usage", "create_restriction"},
                          true);
        }
    }
    return k;
}

Denylist read_deny(const Node& node) {
    node.require_object();
    Denylist deny;
    // Deny lists are often generated (from a dbx or a revocation feed), so a
    // repeated entry is harmless here, unlike in the hand-written lists.
    for (auto it = node.json().begin(); it != node.json().end(); ++it) {
        Node field = node.member(it.key());
        if (it.key() == "fingerprints") {
            field.each_string([&](std::size_t, const Node& e, const std::string& text) {
                auto fp = Fingerprint::parse(text);
                if (!fp) {
                    e.fail("expected a fingerprint \"sha256:<64 hex digits>\", got " +
                           quote_text(text));
                }
                deny.fingerprints.insert(*fp);
            });
        } else if (it.key() == "tbs_hashes") {
            field.each_string([&](std::size_t, const Node& e, const std::string& text) {
                // The kernel's .blacklist spells these "tbs:HEX": take that form too.
                std::string_view hex = text;
                if (hex.starts_with("tbs:")) hex.remove_prefix(4);
                auto digest = Sha256::parse(hex);
                if (!digest) {
                    e.fail(
                        "expected a TBS hash \"sha256:<64 hex digits>\" or \"tbs:<64 hex "
                        "digits>\", got " +
                        quote_text(text));
                }
                deny.tbs_hashes.insert(*digest);
            });
        } else if (it.key() == "comment") {
            field.string();
        } else {
            unknown_field(field, {"fingerprints", "tbs_hashes"});
        }
    }
    return deny;
}

Layer read_layer(const Json& document) {
    if (!document.is_object()) {
        // The root's pointer is "": say it in words.
        throw Error(ErrorCode::InvalidPolicy,
                    "the policy must be a JSON object, got " + quote(document));
    }
    Node root(document, "");
    if (!document.contains("version")) fail_at("/version", "missing; this anchord reads version 1");
    Node version = root.member("version");
    if (!version.json().is_number_integer() || version.json() != Json(kSupportedVersion)) {
        version.fail("unsupported version " + quote(version.json()) +
                     "; this anchord reads version " + std::to_string(kSupportedVersion));
    }
    Layer layer;
    for (auto it = document.begin(); it != document.end(); ++it) {
        const std::string& key = it.key();
        Node field = root.member(key);
        if (key == "version") {
            continue;
        } else if (key == "defaults") {
            layer.defaults = read_defaults(field);
        } else if (key == "keyrings") {
            field.require_object();
            for (auto k = field.json().begin(); k != field.json().end(); ++k) {
                Node entry = field.member(k.key());
                auto name = parse_logical_keyring(k.key());
                if (!name) {
                    std::vector<std::string> known;
                    for (auto kr : kAllLogicalKeyrings) known.emplace_back(to_string(kr));
                    entry.fail("unknown keyring " + quote_text(k.key()) + "; expected " +
                               alternatives(known));
                }
                layer.keyrings[*name] = read_keyring(entry);
            }
        } else if (key == "deny") {
            layer.deny = read_deny(field);
        } else if (key == "comment") {
            field.string();
        } else {
            unknown_field(field, {"version", "defaults", "keyrings", "deny"});
        }
    }
    return layer;
}

// ---------------------------------------------------------------------------
// Resolution: the user's layer over the built-in one

const Layer& builtin_layer() {
    // Parsed once; a broken default file is a bug of ours, not the user's.
    static const Layer layer = [] {
        try {
            return read_layer(read_json(default_policy_text()));
        } catch (const Error& e) {
            throw Error(ErrorCode::Internal,
                        std::string("the built-in default policy is invalid: ") + e.what());
        }
    }();
    return layer;
}

template <typename T>
T pick(std::initializer_list<const std::optional<T>*> candidates, LogicalKeyring k,
       std::string_view field) {
    for (const auto* c : candidates) {
        if (c->has_value()) return **c;
    }
    throw Error(ErrorCode::Internal,
                "the built-in default policy sets no " + keyring_pointer(k, field));
}

KeyringPolicy resolve(LogicalKeyring k, const Layer& user, const Layer& builtin) {
    static const KeyringFields kNone{};
    auto find = [&](const Layer& layer) -> const KeyringFields& {
        auto it = layer.keyrings.find(k);
        return it == layer.keyrings.end() ? kNone : it->second;
    };
    const KeyringFields& u = find(user);
    const KeyringFields& b = find(builtin);

    KeyringPolicy p;
    p.name = k;
    p.kernel_keyring = pick({&u.kernel_keyring, &b.kernel_keyring}, k, "kernel_keyring");
    p.role = pick({&u.role, &b.role}, k, "role");
    p.enrollable = pick({&u.enrollable, &b.enrollable}, k, "enrollable");
    p.trusted_by = pick({&u.trusted_by, &b.trusted_by}, k, "trusted_by");
    p.pinned_issuers = pick({&u.pinned_issuers, &b.pinned_issuers}, k, "pinned_issuers");
    p.ca_enforcement = pick({&u.ca_enforcement, &b.ca_enforcement}, k, "ca_enforcement");
    p.allow_ca = pick({&u.allow_ca, &b.allow_ca}, k, "allow_ca");
    p.allow_leaf = pick({&u.allow_leaf, &b.allow_leaf}, k, "allow_leaf");
    p.required_usage = pick({&u.required_usage, &b.required_usage}, k, "required_usage");
    p.forbidden_usage = pick({&u.forbidden_usage, &b.forbidden_usage}, k, "forbidden_usage");
    p.create_restriction =
        pick({&u.create_restriction, &b.create_restriction}, k, "create_restriction");

    // A rule field: this keyring in the file, the file's defaults, then the
    // same two in the built-in policy.
    auto rule = [&](auto member, std::string_view field) {
        return pick({&(u.rules.*member), &(user.defaults.*member), &(b.rules.*member),
                     &(builtin.defaults.*member)},
                    k, field);
    };
    p.algorithms = rule(&RuleFields::algorithms, "algorithms");
    p.hashes = rule(&RuleFields::hashes, "hashes");
    p.enforce_validity = rule(&RuleFields::enforce_validity, "enforce_validity");
    p.clock_skew = rule(&RuleFields::clock_skew, "clock_skew");
    p.max_chain_depth = rule(&RuleFields::max_chain_depth, "max_chain_depth");
    return p;
}

// ---------------------------------------------------------------------------
// Checks across fields, on the effective policy

// Of the fields a rule involves, blame the first the user wrote: that is
// where the contradiction came in.
std::string blame(LogicalKeyring k, std::initializer_list<std::pair<std::string_view, bool>> set) {
    for (const auto& [field, set_by_user] : set) {
        if (set_by_user) return keyring_pointer(k, field);
    }
    return keyring_pointer(k, set.begin()->first);
}

std::string usage_list(std::uint16_t bits) {
    std::string out;
    for (int i = 0; i < kKeyUsageBits; ++i) {
        auto bit = static_cast<std::uint16_t>(1u << i);
        if (!(bits & bit)) continue;
        if (!out.empty()) out += ", ";
        out += key_usage_name(bit);
    }
    return out;
}

void check_keyring(const KeyringPolicy& p, const KeyringFields& u) {
    const LogicalKeyring k = p.name;
    const std::string name(to_string(k));

    if (auto both = static_cast<std::uint16_t>(p.required_usage & p.forbidden_usage)) {
        fail_at(blame(k, {{"forbidden_usage", u.forbidden_usage.has_value()},
                          {"required_usage", u.required_usage.has_value()}}),
                usage_list(both) + " is both in required_usage and in forbidden_usage");
    }
    if (p.role == KeyringRole::Ca && p.allow_ca) {
        fail_at(keyring_pointer(k, "allow_ca"),
                name +
                    " is a ca keyring, which takes CA certificates anyway; allow_ca is for "
                    "signing keyrings");
    }
    if (p.role == KeyringRole::Signing && p.allow_leaf) {
        fail_at(keyring_pointer(k, "allow_leaf"),
                name +
                    " is a signing keyring, which takes leaf certificates anyway; allow_leaf "
                    "is for ca keyrings");
    }
    if (p.ca_enforcement != CaEnforcement::None) {
        std::string mode(to_string(p.ca_enforcement));
        if (p.role == KeyringRole::Signing && !p.allow_ca) {
            fail_at(blame(k, {{"ca_enforcement", u.ca_enforcement.has_value()},
                              {"role", u.role.has_value()},
                              {"allow_ca", u.allow_ca.has_value()}}),
                    "CA enforcement \"" + mode + "\" takes only CA certificates, but " + name +
                        " is a signing keyring that refuses them (allow_ca is false)");
        }
        if (p.forbidden_usage & key_usage::key_cert_sign) {
            fail_at(
                blame(k, {{"ca_enforcement", u.ca_enforcement.has_value()},
                          {"forbidden_usage", u.forbidden_usage.has_value()}}),
                "CA enforcement \"" + mode + "\" requires keyCertSign, which " + name + " forbids");
        }
        if (p.ca_enforcement == CaEnforcement::CaMax &&
            (p.required_usage & key_usage::digital_signature)) {
            fail_at(
                blame(k, {{"ca_enforcement", u.ca_enforcement.has_value()},
                          {"required_usage", u.required_usage.has_value()}}),
                "CA enforcement \"ca-max\" refuses digitalSignature, which " + name + " requires");
        }
    }
    // Userspace cannot create a keyring whose name starts with '.': such a
    // keyring is the kernel's, and the kernel set its restriction.
    if (p.create_restriction != KernelRestriction::None && p.kernel_keyring.starts_with('.')) {
        fail_at(blame(k, {{"create_restriction", u.create_restriction.has_value()},
                          {"kernel_keyring", u.kernel_keyring.has_value()}}),
                "only a keyring anchord creates can be given a restriction; " +
                    quote_text(p.kernel_keyring) + " is the kernel's own");
    }
}

// An enrollable keyring needs a way for its first key to be vouched for: a
// pinned issuer, or a keyring anchored outside anchord (one it cannot enroll
// into, filled by the kernel), directly or through other keyrings. Trust that
// only goes round (ima trusted by evm, evm by ima) admits nothing, ever.
void check_trust_roots(const std::map<LogicalKeyring, KeyringPolicy>& keyrings) {
    std::set<LogicalKeyring> anchored;
    for (const auto& [k, p] : keyrings) {
        if (!p.enrollable || !p.pinned_issuers.empty()) anchored.insert(k);
    }
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& [k, p] : keyrings) {
            if (anchored.count(k)) continue;
            for (auto t : p.trusted_by) {
                if (anchored.count(t)) {
                    anchored.insert(k);
                    grew = true;
                    break;
                }
            }
        }
    }
    for (const auto& [k, p] : keyrings) {
        if (anchored.count(k)) continue;
        std::string pointer = keyring_pointer(k, "trusted_by");
        std::string name(to_string(k));
        if (p.trusted_by.empty()) {
            fail_at(pointer, "nothing could ever be enrolled into " + name +
                                 ": no keyring vouches for it and it pins no issuer; set "
                                 "\"enrollable\": false or name a keyring such as \"builtin\"");
        }
        std::string vouchers;
        for (auto t : p.trusted_by) {
            if (!vouchers.empty()) vouchers += ", ";
            vouchers += t == k ? std::string("itself") : std::string(to_string(t));
        }
        fail_at(pointer, "nothing could ever be enrolled into " + name +
                             ": it is vouched for only by " + vouchers +
                             ", and following trusted_by from there never reaches a keyring the "
                             "kernel fills (enrollable false) or a pinned issuer");
    }
}

void check_policy(const Policy& policy, const Layer& user) {
    static const KeyringFields kNone{};
    std::map<std::string, LogicalKeyring> kernel_names;
    for (const auto& [k, p] : policy.keyrings) {
        auto u = user.keyrings.find(k);
        check_keyring(p, u == user.keyrings.end() ? kNone : u->second);
        auto [it, fresh] = kernel_names.emplace(p.kernel_keyring, k);
        if (!fresh) {
            fail_at(keyring_pointer(k, "kernel_keyring"),
                    std::string(to_string(it->second)) + " and " + std::string(to_string(k)) +
                        " both map to the kernel keyring " + quote_text(p.kernel_keyring));
        }
    }
    check_trust_roots(policy.keyrings);
}

// ---------------------------------------------------------------------------
// Writing

Json usage_json(std::uint16_t bits) {
    Json out = Json::array();
    for (int i = 0; i < kKeyUsageBits; ++i) {
        auto bit = static_cast<std::uint16_t>(1u << i);
        if (bits & bit) out.push_back(std::string(key_usage_name(bit)));
    }
    return out;
}

Json keyring_json(const KeyringPolicy& p) {
    Json out = Json::object();
    out["kernel_keyring"] = p.kernel_keyring;
    out["role"] = std::string(to_string(p.role));
    out["enrollable"] = p.enrollable;
    Json trusted = Json::array();
    for (auto t : p.trusted_by) trusted.push_back(std::string(to_string(t)));
    out["trusted_by"] = std::move(trusted);
    Json pins = Json::array();
    for (const auto& fp : p.pinned_issuers) pins.push_back(fp.to_string());
    out["pinned_issuers"] = std::move(pins);
    out["ca_enforcement"] = std::string(to_string(p.ca_enforcement));
    out["allow_ca"] = p.allow_ca;
    out["allow_leaf"] = p.allow_leaf;
    out["required_usage"] = usage_json(p.required_usage);
    out["forbidden_usage"] = usage_json(p.forbidden_usage);
    Json algorithms = Json::object();
    for (const auto& rule : p.algorithms) {
        Json r = Json::object();
        if (rule.min_bits > 0) r["min_bits"] = rule.min_bits;
        if (!rule.curves.empty()) r["curves"] = rule.curves;
        algorithms[std::string(to_string(rule.algorithm))] = std::move(r);
    }
    out["algorithms"] = std::move(algorithms);
    Json hashes = Json::array();
    for (auto h : p.hashes) hashes.push_back(std::string(to_string(h)));
    out["hashes"] = std::move(hashes);
    out["enforce_validity"] = p.enforce_validity;
    out["clock_skew"] = p.clock_skew.count();
    out["max_chain_depth"] = p.max_chain_depth;
    out["create_restriction"] = std::string(to_string(p.create_restriction));
    return out;
}

}  // namespace

std::string_view to_string(KeyringRole r) noexcept {
    return name_in(kRoleNames, r);
}
std::string_view to_string(CaEnforcement c) noexcept {
    return name_in(kCaEnforcementNames, c);
}
std::string_view to_string(KernelRestriction r) noexcept {
    return name_in(kRestrictionNames, r);
}

Policy parse_policy(std::string_view json_text) {
    Layer user = read_layer(read_json(json_text));
    const Layer& builtin = builtin_layer();

    Policy policy;
    policy.version = kSupportedVersion;
    for (auto k : kAllLogicalKeyrings) policy.keyrings[k] = resolve(k, user, builtin);
    // A denial in the built-in policy cannot be lifted by a user's file.
    policy.deny = builtin.deny;
    policy.deny.fingerprints.insert(user.deny.fingerprints.begin(), user.deny.fingerprints.end());
    policy.deny.tbs_hashes.insert(user.deny.tbs_hashes.begin(), user.deny.tbs_hashes.end());
    check_policy(policy, user);

    const auto* bytes = reinterpret_cast<const std::uint8_t*>(json_text.data());
    policy.digest = "sha256:" + Sha256::of(ByteView(bytes, json_text.size())).hex();
    return policy;
}

std::string policy_to_json(const Policy& policy) {
    Json out = Json::object();
    out["version"] = policy.version;
    Json keyrings = Json::object();
    for (const auto& [k, p] : policy.keyrings)
        keyrings[std::string(to_string(k))] = keyring_json(p);
    out["keyrings"] = std::move(keyrings);
    Json fingerprints = Json::array();
    for (const auto& fp : policy.deny.fingerprints) fingerprints.push_back(fp.to_string());
    Json tbs = Json::array();
    for (const auto& h : policy.deny.tbs_hashes) tbs.push_back("sha256:" + h.hex());
    out["deny"] = Json{{"fingerprints", std::move(fingerprints)}, {"tbs_hashes", std::move(tbs)}};
    return out.dump(2) + "\n";
}

}  // namespace anchord
