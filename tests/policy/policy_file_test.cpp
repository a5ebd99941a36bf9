// The policy file: the default policy, layering, the round trip through
// policy_to_json, and one test per validation. Errors are the one place where
// the message is asserted: it must start with the JSON pointer of the field.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "anchord/error.hpp"
#include "anchord/policy.hpp"

namespace anchord {
namespace {

using Json = nlohmann::ordered_json;

std::string read_source_file(const std::string& relative) {
    std::ifstream in(std::string(ANCHORD_SOURCE_DIR) + "/" + relative, std::ios::binary);
    EXPECT_TRUE(in.good()) << relative;
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// {"version": 1, <members>}
std::string policy_with(const std::string& members) {
    return R"({"version": 1, )" + members + "}";
}

std::string keyring(const std::string& name, const std::string& body) {
    return policy_with(R"("keyrings": {")" + name + R"(": )" + body + "}");
}

std::string defaults(const std::string& body) {
    return policy_with(R"("defaults": )" + body);
}

const std::string kHex64(64, 'a');
const std::string kFingerprint = "sha256:" + kHex64;

const KeyringPolicy& at(const Policy& p, LogicalKeyring k) {
    const KeyringPolicy* kp = p.find(k);
    if (kp == nullptr) throw std::runtime_error("keyring missing from the policy");
    return *kp;
}

// ---------------------------------------------------------------------------
// The default policy

TEST(DefaultPolicy, TextIsTheShippedFileByteForByte) {
    EXPECT_EQ(default_policy_text(), read_source_file("policy/default-policy.json"));
}

TEST(DefaultPolicy, ParsesToTheKernelsModel) {
    Policy p = parse_policy(default_policy_text());
    EXPECT_EQ(p.version, 1);
    ASSERT_EQ(p.keyrings.size(), 6u);
    EXPECT_TRUE(p.deny.fingerprints.empty());
    EXPECT_TRUE(p.deny.tbs_hashes.empty());

    const auto& builtin = at(p, LogicalKeyring::Builtin);
    EXPECT_EQ(builtin.kernel_keyring, ".builtin_trusted_keys");
    EXPECT_EQ(builtin.role, KeyringRole::Ca);
    EXPECT_FALSE(builtin.enrollable);

    const auto& secondary = at(p, LogicalKeyring::Secondary);
    EXPECT_EQ(secondary.kernel_keyring, ".secondary_trusted_keys");
    EXPECT_EQ(secondary.role, KeyringRole::Ca);
    EXPECT_TRUE(secondary.enrollable);
    EXPECT_EQ(secondary.trusted_by,
              (std::vector<LogicalKeyring>{LogicalKeyring::Builtin, LogicalKeyring::Secondary,
                                           LogicalKeyring::Machine}));
    EXPECT_EQ(secondary.required_usage, key_usage::key_cert_sign);
    EXPECT_EQ(secondary.forbidden_usage, 0);

    const auto& machine = at(p, LogicalKeyring::Machine);
    EXPECT_EQ(machine.kernel_keyring, ".machine");
    EXPECT_EQ(machine.role, KeyringRole::Ca);
    EXPECT_EQ(machine.ca_enforcement, CaEnforcement::Ca);
    EXPECT_FALSE(machine.enrollable);

    const auto& platform = at(p, LogicalKeyring::Platform);
    EXPECT_EQ(platform.kernel_keyring, ".platform");
    EXPECT_EQ(platform.role, KeyringRole::Ca);
    EXPECT_FALSE(platform.enrollable);

    for (auto k : {LogicalKeyring::Ima, LogicalKeyring::Evm}) {
        const auto& s = at(p, k);
        EXPECT_EQ(s.kernel_keyring, k == LogicalKeyring::Ima ? ".ima" : ".evm");
        EXPECT_EQ(s.role, KeyringRole::Signing);
        EXPECT_TRUE(s.enrollable);
        EXPECT_EQ(s.trusted_by, (std::vector<LogicalKeyring>{LogicalKeyring::Builtin,
                                                             LogicalKeyring::Secondary}));
        EXPECT_EQ(s.required_usage, key_usage::digital_signature);
        EXPECT_EQ(s.forbidden_usage, key_usage::key_cert_sign);
    }

    const std::vector<AlgorithmRule> algorithms{
        {KeyAlgorithm::Rsa, 2048, {}},
        {KeyAlgorithm::Ecdsa, 0, {"P-256", "P-384", "P-521"}},
    };
    const std::vector<HashAlgorithm> hashes{HashAlgorithm::Sha256,   HashAlgorithm::Sha384,
                                            HashAlgorithm::Sha512,   HashAlgorithm::Sha3_256,
                                            HashAlgorithm::Sha3_384, HashAlgorithm::Sha3_512};
    for (const auto& [k, kp] : p.keyrings) {
        SCOPED_TRACE(std::string(to_string(k)));
        EXPECT_EQ(kp.name, k);
        EXPECT_EQ(kp.algorithms, algorithms);
        EXPECT_EQ(kp.hashes, hashes);
        EXPECT_TRUE(kp.enforce_validity);
        EXPECT_EQ(kp.clock_skew, std::chrono::seconds(300));
        EXPECT_EQ(kp.max_chain_depth, 4);
        EXPECT_EQ(kp.create_restriction, KernelRestriction::None);
        EXPECT_TRUE(kp.pinned_issuers.empty());
        EXPECT_FALSE(kp.allow_ca);
        EXPECT_FALSE(kp.allow_leaf);
        if (k != LogicalKeyring::Machine) {
            EXPECT_EQ(kp.ca_enforcement, CaEnforcement::None);
        }
    }
}

TEST(DefaultPolicy, AnEmptyFileMeansTheDefault) {
    Policy minimal = parse_policy(R"({"version": 1})");
    Policy full = parse_policy(default_policy_text());
    EXPECT_EQ(minimal.keyrings, full.keyrings);
    EXPECT_EQ(minimal.deny, full.deny);
}

TEST(DefaultPolicy, NoTrustedKeyringSampleMapsToUserspaceKeyrings) {
    Policy p = parse_policy(read_source_file("docs/policy-no-trusted-keyring.json"));
    Policy d = parse_policy(default_policy_text());
    for (auto k : {LogicalKeyring::Ima, LogicalKeyring::Evm}) {
        const auto& kp = at(p, k);
        EXPECT_EQ(kp.kernel_keyring, k == LogicalKeyring::Ima ? "_ima" : "_evm");
        EXPECT_EQ(kp.create_restriction, KernelRestriction::BuiltinAndSecondaryTrusted);
        // Everything else stays the default's.
        KeyringPolicy expected = at(d, k);
        expected.kernel_keyring = kp.kernel_keyring;
        expected.create_restriction = kp.create_restriction;
        EXPECT_EQ(kp, expected);
    }
    EXPECT_EQ(at(p, LogicalKeyring::Secondary), at(d, LogicalKeyring::Secondary));
}

TEST(EnumNames, ToString) {
    EXPECT_EQ(to_string(KeyringRole::Ca), "ca");
    EXPECT_EQ(to_string(KeyringRole::Signing), "signing");
    EXPECT_EQ(to_string(CaEnforcement::None), "none");
    EXPECT_EQ(to_string(CaEnforcement::Ca), "ca");
    EXPECT_EQ(to_string(CaEnforcement::CaMax), "ca-max");
    EXPECT_EQ(to_string(KernelRestriction::None), "none");
    EXPECT_EQ(to_string(KernelRestriction::BuiltinTrusted), "builtin_trusted");
    EXPECT_EQ(to_string(KernelRestriction::BuiltinAndSecondaryTrusted),
              "builtin_and_secondary_trusted");
}

// ---------------------------------------------------------------------------
// Digest

TEST(Digest, IsTheSha256OfTheExactText) {
    std::string text = R"({"version": 1})";
    Policy p = parse_policy(text);
    auto bytes = reinterpret_cast<const std::uint8_t*>(text.data());
    EXPECT_EQ(p.digest, "sha256:" + Sha256::of(ByteView(bytes, text.size())).hex());
}

TEST(Digest, ChangesWhenTheTextChangesEvenIfTheMeaningDoesNot) {
    Policy a = parse_policy(R"({"version": 1})");
    Policy b = parse_policy(R"({"version": 1 })");
    Policy c = parse_policy(defaults(R"({"max_chain_depth": 3})"));
    EXPECT_EQ(a.keyrings, b.keyrings);
    EXPECT_NE(a.digest, b.digest);
    EXPECT_NE(a.digest, c.digest);
    EXPECT_EQ(a.digest, parse_policy(R"({"version": 1})").digest);
}

// ---------------------------------------------------------------------------
// Layering: keyring > file defaults > built-in keyring > built-in defaults

TEST(Layering, FileDefaultsApplyToEveryKeyring) {
    Policy p =
        parse_policy(defaults(R"({"max_chain_depth": 2, "clock_skew": 0, "enforce_validity": false,
                     "hashes": ["sha512"], "algorithms": {"ed25519": {}}})"));
    for (const auto& [k, kp] : p.keyrings) {
        SCOPED_TRACE(std::string(to_string(k)));
        EXPECT_EQ(kp.max_chain_depth, 2);
        EXPECT_EQ(kp.clock_skew, std::chrono::seconds(0));
        EXPECT_FALSE(kp.enforce_validity);
        EXPECT_EQ(kp.hashes, std::vector<HashAlgorithm>{HashAlgorithm::Sha512});
        EXPECT_EQ(kp.algorithms, (std::vector<AlgorithmRule>{{KeyAlgorithm::Ed25519, 0, {}}}));
    }
}

TEST(Layering, AKeyringOverridesTheDefaults) {
    Policy p = parse_policy(policy_with(R"(
        "defaults": {"max_chain_depth": 2, "hashes": ["sha384"]},
        "keyrings": {"ima": {"max_chain_depth": 3, "algorithms": {"rsa": {"min_bits": 4096}}}})"));
    const auto& ima = at(p, LogicalKeyring::Ima);
    const auto& evm = at(p, LogicalKeyring::Evm);
    EXPECT_EQ(ima.max_chain_depth, 3);
    EXPECT_EQ(evm.max_chain_depth, 2);
    // A keyring's algorithms replace the whole map, they do not merge into it.
    EXPECT_EQ(ima.algorithms, (std::vector<AlgorithmRule>{{KeyAlgorithm::Rsa, 4096, {}}}));
    EXPECT_EQ(evm.algorithms.size(), 2u);
    // Fields the keyring leaves out still come from the file's defaults.
    EXPECT_EQ(ima.hashes, std::vector<HashAlgorithm>{HashAlgorithm::Sha384});
    // ... and, past those, from the built-in defaults.
    EXPECT_EQ(ima.clock_skew, std::chrono::seconds(300));
}

TEST(Layering, AKeyringKeepsItsBuiltinFieldsThatTheFileLeavesOut) {
    Policy p = parse_policy(keyring("ima", R"({"kernel_keyring": "_ima", "enrollable": false})"));
    const auto& ima = at(p, LogicalKeyring::Ima);
    EXPECT_EQ(ima.kernel_keyring, "_ima");
    EXPECT_FALSE(ima.enrollable);
    EXPECT_EQ(ima.role, KeyringRole::Signing);
    EXPECT_EQ(ima.required_usage, key_usage::digital_signature);
    EXPECT_EQ(ima.forbidden_usage, key_usage::key_cert_sign);
    EXPECT_EQ(at(p, LogicalKeyring::Evm).kernel_keyring, ".evm");
}

TEST(Layering, PostQuantumAndEdwardsKeysAreAllowedByConfiguration) {
    Policy p = parse_policy(keyring("ima", R"({
        "algorithms": {"ed25519": {}, "ml-dsa-65": {}, "ecdsa": {"min_bits": 384,
                       "curves": ["P-384", "secp256k1"]}},
        "hashes": ["none", "sha256"]})"));
    const auto& ima = at(p, LogicalKeyring::Ima);
    EXPECT_EQ(ima.algorithms, (std::vector<AlgorithmRule>{
                                  {KeyAlgorithm::Ed25519, 0, {}},
                                  {KeyAlgorithm::MlDsa65, 0, {}},
                                  {KeyAlgorithm::Ecdsa, 384, {"P-384", "secp256k1"}},
                              }));
    EXPECT_EQ(ima.hashes, (std::vector<HashAlgorithm>{HashAlgorithm::None, HashAlgorithm::Sha256}));
}

TEST(Layering, CommentsAreAcceptedEverywhereTheyAreDocumented) {
    Policy p = parse_policy(policy_with(R"("comment": "top",
        "defaults": {"comment": "d", "algorithms": {"rsa": {"min_bits": 2048, "comment": "a"},
                     "ecdsa": {"curves": ["P-256", "P-384", "P-521"]}}},
        "keyrings": {"ima": {"comment": "k"}},
        "deny": {"comment": "x"})"));
    EXPECT_EQ(p.keyrings, parse_policy(default_policy_text()).keyrings);
}

TEST(Layering, PinnedIssuersAndDenyAcceptTheUsualSpellings) {
    std::string colon;
    for (int i = 0; i < 32; ++i) colon += i == 0 ? "AB" : ":AB";
    Policy p =
        parse_policy(policy_with(R"(
        "keyrings": {"ima": {"pinned_issuers": [")" +
                                 kFingerprint + R"(", ")" + colon + R"("]}},
        "deny": {"fingerprints": [")" +
                                 kFingerprint + R"(", ")" + kFingerprint + R"("],
                 "tbs_hashes": ["tbs:)" +
                                 kHex64 + R"(", "sha256:)" + std::string(64, 'b') + R"("]})"));
    const auto& pins = at(p, LogicalKeyring::Ima).pinned_issuers;
    ASSERT_EQ(pins.size(), 2u);
    EXPECT_EQ(pins[0].to_string(), kFingerprint);
    std::string lower;
    for (int i = 0; i < 32; ++i) lower += "ab";
    EXPECT_EQ(pins[1].to_string(), "sha256:" + lower);
    // Deny lists may repeat an entry (they are often generated).
    EXPECT_EQ(p.deny.fingerprints.size(), 1u);
    EXPECT_EQ(p.deny.tbs_hashes.size(), 2u);
    EXPECT_TRUE(p.deny.tbs_hashes.count(*Sha256::parse(kHex64)));
}

TEST(Layering, TrustLoopsAreFineWhenSomethingAnchorsThem) {
    // Self-trust plus a pinned issuer: the pin admits the first key.
    EXPECT_NO_THROW(parse_policy(keyring(
        "ima", R"({"trusted_by": ["ima"], "pinned_issuers": [")" + kFingerprint + R"("]})")));
    // A keyring anchord does not enroll into needs no voucher.
    EXPECT_NO_THROW(parse_policy(keyring("ima", R"({"trusted_by": [], "enrollable": false})")));
    // ima and evm vouch for each other, and evm reaches builtin.
    EXPECT_NO_THROW(parse_policy(policy_with(R"("keyrings": {
        "ima": {"trusted_by": ["evm"]}, "evm": {"trusted_by": ["evm", "builtin"]}})")));
}

// ---------------------------------------------------------------------------
// Round trip

void expect_round_trip(const std::string& text) {
    Policy first = parse_policy(text);
    std::string printed = policy_to_json(first);
    Policy second = parse_policy(printed);
    EXPECT_EQ(second.keyrings, first.keyrings) << printed;
    EXPECT_EQ(second.deny, first.deny) << printed;
    EXPECT_EQ(second.version, first.version);
    // Printing is stable: the effective policy is a fixed point.
    EXPECT_EQ(policy_to_json(second), printed);
}

TEST(RoundTrip, DefaultPolicy) {
    expect_round_trip(std::string(default_policy_text()));
}

TEST(RoundTrip, CustomPolicyWithEveryKindOfField) {
    expect_round_trip(policy_with(R"(
        "defaults": {"algorithms": {"rsa": {"min_bits": 3072}, "ecdsa": {"curves": ["P-384"]},
                                    "ed25519": {}},
                     "hashes": ["sha512", "sha3-512"], "clock_skew": 60, "max_chain_depth": 3},
        "keyrings": {
            "ima": {"kernel_keyring": "_ima", "create_restriction": "builtin_trusted",
                    "pinned_issuers": [")" +
                                  kFingerprint + R"("], "allow_ca": true, "enforce_validity": false,
                    "required_usage": ["digitalSignature", "nonRepudiation"],
                    "forbidden_usage": ["keyCertSign", "cRLSign"]},
            "secondary": {"allow_leaf": true, "trusted_by": ["builtin"]},
            "machine": {"ca_enforcement": "ca-max", "forbidden_usage": ["digitalSignature"]}},
        "deny": {"fingerprints": [")" +
                                  kFingerprint + R"("], "tbs_hashes": ["tbs:)" + kHex64 +
                                  R"("]})"));
}

TEST(RoundTrip, PrintsEveryFieldOfEveryKeyring) {
    Json printed = Json::parse(policy_to_json(parse_policy(R"({"version": 1})")));
    EXPECT_EQ(printed.at("version"), 1);
    ASSERT_EQ(printed.at("keyrings").size(), 6u);
    const std::vector<std::string> fields{
        "kernel_keyring",    "role",     "enrollable",       "trusted_by",     "pinned_issuers",
        "ca_enforcement",    "allow_ca", "allow_leaf",       "required_usage", "forbidden_usage",
        "algorithms",        "hashes",   "enforce_validity", "clock_skew",     "max_chain_depth",
        "create_restriction"};
    for (auto it = printed.at("keyrings").begin(); it != printed.at("keyrings").end(); ++it) {
        SCOPED_TRACE(it.key());
        EXPECT_EQ(it.value().size(), fields.size());
        for (const auto& f : fields) EXPECT_TRUE(it.value().contains(f)) << f;
    }
    EXPECT_EQ(printed.at("keyrings").at("ima").at("clock_skew"), 300);
    EXPECT_EQ(printed.at("keyrings").at("ima").at("forbidden_usage"), Json::array({"keyCertSign"}));
    EXPECT_TRUE(printed.at("deny").contains("fingerprints"));
    EXPECT_TRUE(printed.at("deny").contains("tbs_hashes"));
}

// ---------------------------------------------------------------------------
// Errors that have no pointer: the text itself

ErrorCode code_of(const std::string& text, std::string* message = nullptr) {
    try {
        parse_policy(text);
    } catch (const Error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    ADD_FAILURE() << "accepted: " << text;
    return ErrorCode::Internal;
}

TEST(Errors, InvalidJsonGivesLineColumnAndByte) {
    std::string message;
    // Line 3 starts at byte 19; its ',' is column 16, byte 34.
    std::string text = "{\n  \"version\": 1,\n  \"keyrings\": {,}\n}";
    EXPECT_EQ(code_of(text, &message), ErrorCode::InvalidPolicy);
    EXPECT_NE(message.find("line 3"), std::string::npos) << message;
    EXPECT_NE(message.find("column 16"), std::string::npos) << message;
    EXPECT_NE(message.find("byte 34"), std::string::npos) << message;
}

TEST(Errors, TruncatedAndEmptyTextAreInvalidJson) {
    std::string message;
    EXPECT_EQ(code_of(R"({"version": 1)", &message), ErrorCode::InvalidPolicy);
    EXPECT_NE(message.find("line 1"), std::string::npos) << message;
    EXPECT_EQ(code_of("", &message), ErrorCode::InvalidPolicy);
    EXPECT_NE(message.find("line 1"), std::string::npos) << message;
    EXPECT_EQ(code_of("{\"version\": 1}\n// trailing", &message), ErrorCode::InvalidPolicy);
    EXPECT_NE(message.find("line 2"), std::string::npos) << message;
}

// Found by fuzz_policy: nlohmann reports a number too large for a double as
// out_of_range, not parse_error, which escaped parse_policy.
TEST(Errors, AnOverflowingNumberIsInvalidJson) {
    EXPECT_EQ(code_of("-46741e99909551616\n"), ErrorCode::InvalidPolicy);
    EXPECT_EQ(code_of(R"({"version": 1, "defaults": {"clock_skew": 1e999}})"),
              ErrorCode::InvalidPolicy);
}

TEST(Errors, TheTopMustBeAnObject) {
    EXPECT_EQ(code_of("[1]"), ErrorCode::InvalidPolicy);
    EXPECT_EQ(code_of("1"), ErrorCode::InvalidPolicy);
    EXPECT_EQ(code_of("null"), ErrorCode::InvalidPolicy);
}

TEST(Errors, OversizedTextIsRefusedBeforeParsing) {
    std::string text = R"({"version": 1, "comment": ")" + std::string(1024 * 1024, 'x') + "\"}";
    EXPECT_EQ(code_of(text), ErrorCode::InvalidPolicy);
}

TEST(Errors, TheExampleMessageOfTheIssue) {
    std::string message;
    EXPECT_EQ(code_of(keyring("ima", R"({"role": "foo"})"), &message), ErrorCode::InvalidPolicy);
    EXPECT_EQ(message, R"(/keyrings/ima/role: expected "ca" or "signing", got "foo")");
}

// ---------------------------------------------------------------------------
// Every validation: the message starts with the offending field's pointer

struct ErrorCase {
    std::string name;
    std::string text;
    std::string pointer;
};

std::ostream& operator<<(std::ostream& out, const ErrorCase& c) {
    return out << c.name;
}

class PolicyErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(PolicyErrors, NamesTheField) {
    const ErrorCase& c = GetParam();
    try {
        parse_policy(c.text);
        FAIL() << "accepted: " << c.text;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::InvalidPolicy);
        std::string message = e.what();
        EXPECT_TRUE(message.starts_with(c.pointer + ": ")) << "message: " << message;
    }
}

std::string nested(int depth) {
    return policy_with(R"("comment": )" + std::string(depth, '[') + std::string(depth, ']'));
}

// The pointer of the innermost array that still fits: the document, then
// "comment", then 31 arrays deep.
std::string nested_pointer() {
    std::string out = "/comment";
    for (int i = 0; i < 31; ++i) out += "/0";
    return out;
}

const std::string kLongName(256, 'k');

INSTANTIATE_TEST_SUITE_P(
    Validation, PolicyErrors,
    ::testing::Values(
        // version
        ErrorCase{"VersionMissing", "{}", "/version"},
        ErrorCase{"VersionUnsupported", R"({"version": 2})", "/version"},
        ErrorCase{"VersionNotANumber", R"({"version": "1"})", "/version"},
        ErrorCase{"VersionNotAnInteger", R"({"version": 1.0})", "/version"},
        // the document's shape
        ErrorCase{"UnknownTopField", policy_with(R"("keyring": {})"), "/keyring"},
        ErrorCase{"CommentNotAString", policy_with(R"("comment": 1)"), "/comment"},
        ErrorCase{"DuplicateTopKey", R"({"version": 1, "version": 1})", "/version"},
        ErrorCase{"DuplicateNestedKey", keyring("ima", R"({"role": "signing", "role": "ca"})"),
                  "/keyrings/ima/role"},
        ErrorCase{"DuplicateKeyInsideAnArray", policy_with(R"("x": [1, {"a": 1, "a": 2}])"),
                  "/x/1/a"},
        ErrorCase{"NestedTooDeep", nested(40), nested_pointer()},
        ErrorCase{"KeyringsNotAnObject", policy_with(R"("keyrings": [])"), "/keyrings"},
        ErrorCase{"UnknownKeyring", keyring("imaa", "{}"), "/keyrings/imaa"},
        ErrorCase{"KeyringNotAnObject", keyring("ima", R"("signing")"), "/keyrings/ima"},
        ErrorCase{"UnknownKeyringField", keyring("ima", R"({"rol": "ca"})"), "/keyrings/ima/rol"},
        ErrorCase{"KeyringCommentNotAString", keyring("ima", R"({"comment": []})"),
                  "/keyrings/ima/comment"},
        // enumerations and booleans
        ErrorCase{"RoleUnknown", keyring("ima", R"({"role": "foo"})"), "/keyrings/ima/role"},
        ErrorCase{"RoleNotAString", keyring("ima", R"({"role": 1})"), "/keyrings/ima/role"},
        ErrorCase{"CaEnforcementUnknown", keyring("machine", R"({"ca_enforcement": "max"})"),
                  "/keyrings/machine/ca_enforcement"},
        ErrorCase{"CreateRestrictionUnknown",
                  keyring("ima", R"({"kernel_keyring": "_ima", "create_restriction": "x"})"),
                  "/keyrings/ima/create_restriction"},
        ErrorCase{"EnrollableNotABoolean", keyring("ima", R"({"enrollable": "yes"})"),
                  "/keyrings/ima/enrollable"},
        ErrorCase{"AllowCaNotABoolean", keyring("ima", R"({"allow_ca": 1})"),
                  "/keyrings/ima/allow_ca"},
        ErrorCase{"EnforceValidityNotABoolean", defaults(R"({"enforce_validity": null})"),
                  "/defaults/enforce_validity"},
        // kernel keyring names
        ErrorCase{"KernelKeyringEmpty", keyring("ima", R"({"kernel_keyring": ""})"),
                  "/keyrings/ima/kernel_keyring"},
        ErrorCase{"KernelKeyringWithSpace", keyring("ima", R"({"kernel_keyring": "my ring"})"),
                  "/keyrings/ima/kernel_keyring"},
        ErrorCase{"KernelKeyringTooLong",
                  keyring("ima", R"({"kernel_keyring": ")" + kLongName + R"("})"),
                  "/keyrings/ima/kernel_keyring"},
        ErrorCase{"KernelKeyringNotAString", keyring("ima", R"({"kernel_keyring": 5})"),
                  "/keyrings/ima/kernel_keyring"},
        ErrorCase{"KernelKeyringSharedByTwo", keyring("evm", R"({"kernel_keyring": ".ima"})"),
                  "/keyrings/evm/kernel_keyring"},
        // trusted_by and trust loops
        ErrorCase{"TrustedByNotAnArray", keyring("ima", R"({"trusted_by": "builtin"})"),
                  "/keyrings/ima/trusted_by"},
        ErrorCase{"TrustedByElementNotAString", keyring("ima", R"({"trusted_by": [1]})"),
                  "/keyrings/ima/trusted_by/0"},
        ErrorCase{"TrustedByUnknownKeyring", keyring("ima", R"({"trusted_by": ["builtin", "x"]})"),
                  "/keyrings/ima/trusted_by/1"},
        ErrorCase{"TrustedByDuplicate", keyring("ima", R"({"trusted_by": ["builtin", "builtin"]})"),
                  "/keyrings/ima/trusted_by/1"},
        ErrorCase{"TrustsOnlyItself", keyring("ima", R"({"trusted_by": ["ima"]})"),
                  "/keyrings/ima/trusted_by"},
        ErrorCase{"TrustGoesRound", policy_with(R"("keyrings": {
                      "ima": {"trusted_by": ["evm"]}, "evm": {"trusted_by": ["ima"]}})"),
                  "/keyrings/ima/trusted_by"},
        ErrorCase{"TrustedByNobody", keyring("secondary", R"({"trusted_by": []})"),
                  "/keyrings/secondary/trusted_by"},
        // fingerprints
        ErrorCase{"PinnedIssuerTooShort", keyring("ima", R"({"pinned_issuers": ["sha256:abc"]})"),
                  "/keyrings/ima/pinned_issuers/0"},
        ErrorCase{"PinnedIssuerOtherAlgorithm",
                  keyring("ima", R"({"pinned_issuers": ["sha1:)" + std::string(40, 'a') + R"("]})"),
                  "/keyrings/ima/pinned_issuers/0"},
        ErrorCase{
            "PinnedIssuerNotHex",
            keyring("ima", R"({"pinned_issuers": ["sha256:)" + std::string(64, 'g') + R"("]})"),
            "/keyrings/ima/pinned_issuers/0"},
        ErrorCase{"PinnedIssuerDuplicate",
                  keyring("ima", R"({"pinned_issuers": [")" + kFingerprint + R"(", ")" + kHex64 +
                                     R"("]})"),
                  "/keyrings/ima/pinned_issuers/1"},
        // key usages
        ErrorCase{"UsageUnknown", keyring("ima", R"({"required_usage": ["digitalsignature"]})"),
                  "/keyrings/ima/required_usage/0"},
        ErrorCase{"UsageDuplicate",
                  keyring("ima", R"({"forbidden_usage": ["cRLSign", "cRLSign"]})"),
                  "/keyrings/ima/forbidden_usage/1"},
        ErrorCase{"UsageRequiredAndForbidden",
                  keyring("ima", R"({"required_usage": ["digitalSignature", "keyCertSign"]})"),
                  "/keyrings/ima/required_usage"},
        ErrorCase{"UsageForbiddenAndRequired",
                  keyring("secondary", R"({"forbidden_usage": ["keyCertSign"]})"),
                  "/keyrings/secondary/forbidden_usage"},
        // algorithms
        ErrorCase{"AlgorithmsEmpty", defaults(R"({"algorithms": {}})"), "/defaults/algorithms"},
        ErrorCase{"AlgorithmsNotAnObject", defaults(R"({"algorithms": ["rsa"]})"),
                  "/defaults/algorithms"},
        ErrorCase{"AlgorithmUnknown", defaults(R"({"algorithms": {"rsa2": {}}})"),
                  "/defaults/algorithms/rsa2"},
        ErrorCase{"AlgorithmUnknownInKeyring", keyring("ima", R"({"algorithms": {"unknown": {}}})"),
                  "/keyrings/ima/algorithms/unknown"},
        ErrorCase{"AlgorithmRuleNotAnObject", defaults(R"({"algorithms": {"rsa": 2048}})"),
                  "/defaults/algorithms/rsa"},
        ErrorCase{"AlgorithmRuleUnknownField",
                  defaults(R"({"algorithms": {"rsa": {"bits": 2048}}})"),
                  "/defaults/algorithms/rsa/bits"},
        ErrorCase{"MinBitsZero", defaults(R"({"algorithms": {"rsa": {"min_bits": 0}}})"),
                  "/defaults/algorithms/rsa/min_bits"},
        ErrorCase{"MinBitsNegative", defaults(R"({"algorithms": {"rsa": {"min_bits": -2048}}})"),
                  "/defaults/algorithms/rsa/min_bits"},
        ErrorCase{"MinBitsTooLarge", defaults(R"({"algorithms": {"rsa": {"min_bits": 16385}}})"),
                  "/defaults/algorithms/rsa/min_bits"},
        ErrorCase{"MinBitsNotAnInteger",
                  defaults(R"({"algorithms": {"rsa": {"min_bits": 2048.5}}})"),
                  "/defaults/algorithms/rsa/min_bits"},
        ErrorCase{"CurvesOnRsa", defaults(R"({"algorithms": {"rsa": {"curves": ["P-256"]}}})"),
                  "/defaults/algorithms/rsa/curves"},
        ErrorCase{"CurvesEmpty", defaults(R"({"algorithms": {"ecdsa": {"curves": []}}})"),
                  "/defaults/algorithms/ecdsa/curves"},
        ErrorCase{"CurveUnknown",
                  defaults(R"({"algorithms": {"ecdsa": {"curves": ["P-256", "P-257"]}}})"),
                  "/defaults/algorithms/ecdsa/curves/1"},
        ErrorCase{"CurveNotACurve", defaults(R"({"algorithms": {"ecdsa": {"curves": ["RSA"]}}})"),
                  "/defaults/algorithms/ecdsa/curves/0"},
        ErrorCase{"CurveAliasOfANistName",
                  defaults(R"({"algorithms": {"ecdsa": {"curves": ["prime256v1"]}}})"),
                  "/defaults/algorithms/ecdsa/curves/0"},
        ErrorCase{"CurveDuplicate",
                  defaults(R"({"algorithms": {"ecdsa": {"curves": ["P-384", "P-384"]}}})"),
                  "/defaults/algorithms/ecdsa/curves/1"},
        // hashes
        ErrorCase{"HashesEmpty", defaults(R"({"hashes": []})"), "/defaults/hashes"},
        ErrorCase{"HashesNotAnArray", defaults(R"({"hashes": "sha256"})"), "/defaults/hashes"},
        ErrorCase{"HashUnknown", defaults(R"({"hashes": ["sha3-1024"]})"), "/defaults/hashes/0"},
        ErrorCase{"HashSha1Refused", defaults(R"({"hashes": ["sha256", "sha1"]})"),
                  "/defaults/hashes/1"},
        ErrorCase{"HashMd5Refused", keyring("evm", R"({"hashes": ["md5"]})"),
                  "/keyrings/evm/hashes/0"},
        ErrorCase{"HashDuplicate", defaults(R"({"hashes": ["sha256", "sha256"]})"),
                  "/defaults/hashes/1"},
        // numbers
        ErrorCase{"ClockSkewNegative", defaults(R"({"clock_skew": -1})"), "/defaults/clock_skew"},
        ErrorCase{"ClockSkewTooLarge", defaults(R"({"clock_skew": 86401})"),
                  "/defaults/clock_skew"},
        ErrorCase{"ClockSkewNotAnInteger", defaults(R"({"clock_skew": "300"})"),
                  "/defaults/clock_skew"},
        ErrorCase{"MaxChainDepthNegative", keyring("ima", R"({"max_chain_depth": -1})"),
                  "/keyrings/ima/max_chain_depth"},
        ErrorCase{"MaxChainDepthZero", defaults(R"({"max_chain_depth": 0})"),
                  "/defaults/max_chain_depth"},
        ErrorCase{"MaxChainDepthHuge", defaults(R"({"max_chain_depth": 18446744073709551615})"),
                  "/defaults/max_chain_depth"},
        ErrorCase{"MaxChainDepthOverflowsToFloat", defaults(R"({"max_chain_depth": 1e30})"),
                  "/defaults/max_chain_depth"},
        // defaults holds rule fields only
        ErrorCase{"DefaultsNotAnObject", defaults("[]"), "/defaults"},
        ErrorCase{"DefaultsWithAKeyringField", defaults(R"({"role": "ca"})"), "/defaults/role"},
        // deny
        ErrorCase{"DenyNotAnObject", policy_with(R"("deny": [])"), "/deny"},
        ErrorCase{"DenyUnknownField", policy_with(R"("deny": {"fingerprint": []})"),
                  "/deny/fingerprint"},
        ErrorCase{"DenyBadFingerprint", policy_with(R"("deny": {"fingerprints": ["sha256:zz"]})"),
                  "/deny/fingerprints/0"},
        ErrorCase{"DenyBadTbsHash",
                  policy_with(R"("deny": {"tbs_hashes": [")" + kHex64 + R"(", "tbs:12"]})"),
                  "/deny/tbs_hashes/1"},
        // contradictions between fields
        ErrorCase{"AllowCaOnACaKeyring", keyring("secondary", R"({"allow_ca": true})"),
                  "/keyrings/secondary/allow_ca"},
        ErrorCase{"AllowLeafOnASigningKeyring", keyring("ima", R"({"allow_leaf": true})"),
                  "/keyrings/ima/allow_leaf"},
        ErrorCase{"CaEnforcementOnASigningKeyring", keyring("ima", R"({"ca_enforcement": "ca"})"),
                  "/keyrings/ima/ca_enforcement"},
        ErrorCase{"CaEnforcementWithKeyCertSignForbidden",
                  keyring("machine", R"({"forbidden_usage": ["keyCertSign"]})"),
                  "/keyrings/machine/forbidden_usage"},
        ErrorCase{
            "CaMaxWithDigitalSignatureRequired",
            keyring("machine",
                    R"({"ca_enforcement": "ca-max", "required_usage": ["digitalSignature"]})"),
            "/keyrings/machine/ca_enforcement"},
        ErrorCase{"CreateRestrictionOnAKernelKeyring",
                  keyring("ima", R"({"create_restriction": "builtin_trusted"})"),
                  "/keyrings/ima/create_restriction"}),
    [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

}  // namespace
}  // namespace anchord
