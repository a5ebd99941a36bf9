// Fuzzes the policy file parser: arbitrary text either parses or is refused
// with Error(InvalidPolicy); what parses survives the round trip through
// policy_to_json unchanged, and printing it again is a fixed point (the
// promise `anchorctl policy` relies on).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "anchord/error.hpp"
#include "anchord/policy.hpp"

namespace {

using namespace anchord;

void expect(bool ok, const char* promise) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_policy: broken promise: %s\n", promise);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    Policy first;
    try {
        first = parse_policy(text);
    } catch (const Error& e) {
        expect(e.code() == ErrorCode::InvalidPolicy, "parse_policy throws only InvalidPolicy");
        return 0;
    }
    expect(first.digest.starts_with("sha256:"), "a parsed policy carries its digest");

    const std::string printed = policy_to_json(first);
    Policy second;
    try {
        second = parse_policy(printed);
    } catch (const Error& e) {
        std::fprintf(stderr, "fuzz_policy: the printed policy does not parse: %s\n%s\n", e.what(),
                     printed.c_str());
        std::abort();
    }
    expect(second.version == first.version, "round trip: same version");
    expect(second.keyrings == first.keyrings, "round trip: same keyrings");
    expect(second.deny == first.deny, "round trip: same denylist");
    expect(policy_to_json(second) == printed, "printing the printed policy is a fixed point");
    return 0;
}
