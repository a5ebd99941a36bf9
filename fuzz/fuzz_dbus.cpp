// Fuzzes the decoding and checking of every D-Bus method's arguments, as
// anchord's bus thread does them before any work is queued or any caller is
// asked about: a real sd-bus message is built from the fuzz bytes (the
// method's own signature with arbitrary values, including a{sv} options of
// any type and nesting, or arbitrary arguments of the wrong types), sealed,
// decoded with the very sdbus-c++ operators the generated adaptor uses, and
// handed to the same argument checks as ManagerObject. A refusal must be an
// anchord error that becomes a sendable D-Bus error reply; anything else
// (another exception, a sanitizer report) is a finding.
//
// Methods without arguments (Reconcile, ReloadPolicy, GetPolicy) and the
// read-only properties decode nothing: sd-bus refuses any argument to them
// by signature before a handler runs.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "anchord/bus_api.hpp"
#include "anchord/certificate.hpp"
#include "anchord/error.hpp"
#include "anchord/sdbus.hpp"
#include "manager/manager.hpp"
#include "service/arguments.hpp"
#include "service/bus_errors.hpp"
#include "service/manager_object.hpp"

// A message not bound to any connection: what sdbus::Variant stores its
// value in. libsdbus-c++ 1.2 exports it without declaring it in its headers
// (later versions declare it in Message.h).
namespace sdbus {
PlainMessage createPlainMessage();
}

namespace {

using namespace anchord;

[[noreturn]] void broken(const std::string& promise) {
    std::fprintf(stderr, "fuzz_dbus: broken promise: %s\n", promise.c_str());
    std::abort();
}

void expect(bool ok, const char* promise) {
    if (!ok) broken(promise);
}

// ---------------------------------------------------------------------------
// Building a message from fuzz bytes. sd-bus refuses, at append time, what
// it would never deliver (a string that is not UTF-8, a bad object path or
// signature): such inputs end there, as the bus would never carry them.

constexpr int kMaxDepth = 4;
constexpr std::size_t kMaxElements = 8;

// One random single complete type ("i", "as", "a{sv}", "(bs)", ...).
std::string random_type(FuzzedDataProvider& in, int depth) {
    static constexpr std::string_view kBasic = "ybnqiuxtdsog";
    const int kind = depth >= kMaxDepth ? 0 : in.ConsumeIntegralInRange(0, 5);
    switch (kind) {
        case 1:
            return "v";
        case 2:
            return "a" + random_type(in, depth + 1);
        case 3:
            return std::string("a{") +
                   kBasic[in.ConsumeIntegralInRange<std::size_t>(0, kBasic.size() - 1)] +
                   random_type(in, depth + 1) + "}";
        case 4: {
            std::string s = "(";
            const auto n = in.ConsumeIntegralInRange(1, 3);
            for (int i = 0; i < n; ++i) s += random_type(in, depth + 1);
            return s + ")";
        }
        default:
            return std::string(
                1, kBasic[in.ConsumeIntegralInRange<std::size_t>(0, kBasic.size() - 1)]);
    }
}

// The length of the complete type at the start of `sig`.
std::size_t complete_type_length(std::string_view sig) {
    if (sig.empty()) return 0;
    switch (sig[0]) {
        case 'a':
            return 1 + complete_type_length(sig.substr(1));
        case '(':
        case '{': {
            const char close = sig[0] == '(' ? ')' : '}';
            std::size_t i = 1;
            while (i < sig.size() && sig[i] != close) i += complete_type_length(sig.substr(i));
            return i + 1;
        }
        default:
            return 1;
    }
}

std::string consume_string(FuzzedDataProvider& in) {
    return in.ConsumeRandomLengthString(512);
}

void append_value(sdbus::Message& msg, FuzzedDataProvider& in, std::string_view type, int depth);

void append_basic(sdbus::Message& msg, FuzzedDataProvider& in, char type) {
    switch (type) {
        case 'y':
            msg << in.ConsumeIntegral<std::uint8_t>();
            break;
        case 'b':
            msg << in.ConsumeBool();
            break;
        case 'n':
            msg << in.ConsumeIntegral<std::int16_t>();
            break;
        case 'q':
            msg << in.ConsumeIntegral<std::uint16_t>();
            break;
        case 'i':
            msg << in.ConsumeIntegral<std::int32_t>();
            break;
        case 'u':
            msg << in.ConsumeIntegral<std::uint32_t>();
            break;
        case 'x':
            msg << in.ConsumeIntegral<std::int64_t>();
            break;
        case 't':
            msg << in.ConsumeIntegral<std::uint64_t>();
            break;
        case 'd':
            msg << in.ConsumeFloatingPoint<double>();
            break;
        case 's':
            msg << consume_string(in);
            break;
        case 'o':
            msg << sdbus::ObjectPath(consume_string(in));
            break;
        case 'g':
            msg << sdbus::Signature(consume_string(in));
            break;
        default:
            broken("append_basic: not a basic type");
    }
}

void append_value(sdbus::Message& msg, FuzzedDataProvider& in, std::string_view type, int depth) {
    switch (type[0]) {
        case 'v': {
            const std::string inner = random_type(in, depth + 1);
            msg.openVariant(inner);
            append_value(msg, in, inner, depth + 1);
            msg.closeVariant();
            return;
        }
        case 'a': {
            const std::string_view element = type.substr(1);
            const auto n = in.ConsumeIntegralInRange<std::size_t>(0, kMaxElements);
            if (element[0] == '{') {
                const std::string entry(element.substr(1, element.size() - 2));
                msg.openContainer(std::string(element));
                for (std::size_t i = 0; i < n; ++i) {
                    msg.openDictEntry(entry);
                    append_basic(msg, in, entry[0]);
                    append_value(msg, in, std::string_view(entry).substr(1), depth + 1);
                    msg.closeDictEntry();
                }
                msg.closeContainer();
            } else {
                msg.openContainer(std::string(element));
                for (std::size_t i = 0; i < n; ++i) append_value(msg, in, element, depth + 1);
                msg.closeContainer();
            }
            return;
        }
        case '(': {
            const std::string_view fields = type.substr(1, type.size() - 2);
            msg.openStruct(std::string(fields));
            for (std::size_t i = 0; i < fields.size();) {
                const std::size_t len = complete_type_length(fields.substr(i));
                append_value(msg, in, fields.substr(i, len), depth + 1);
                i += len;
            }
            msg.closeStruct();
            return;
        }
        default:
            append_basic(msg, in, type[0]);
    }
}

// ---------------------------------------------------------------------------
// The methods with arguments, as the adaptor declares them.

// Verify(ay s), Enroll(ay s a{sv}), Remove(s s), Seal(s).
enum class Method : std::uint8_t { Verify, Enroll, Remove, Seal, kCount };

// The bundle as a caller sends it: mostly what the fuzz bytes say, the
// ay's length being the interesting part.
std::vector<std::uint8_t> consume_bytes(FuzzedDataProvider& in) {
    return in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange<std::size_t>(0, 4096));
}

// A keyring or fingerprint argument: often a real name, to get past the
// first check, else anything.
std::string consume_name(FuzzedDataProvider& in) {
    static constexpr const char* kNames[] = {
        "ima",     "evm",
        "builtin", "secondary",
        "machine", "platform",
        "",        "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"};
    if (in.ConsumeBool())
        return kNames[in.ConsumeIntegralInRange<std::size_t>(0, std::size(kNames) - 1)];
    return consume_string(in);
}

void append_options(sdbus::Message& msg, FuzzedDataProvider& in) {
    const auto n = in.ConsumeIntegralInRange<std::size_t>(0, kMaxElements);
    msg.openContainer("{sv}");
    for (std::size_t i = 0; i < n; ++i) {
        msg.openDictEntry("sv");
        const auto pick = in.ConsumeIntegralInRange<int>(0, 2);
        msg << (pick == 0   ? std::string(bus_api::kPartialOption)
                : pick == 1 ? std::string(bus_api::kBriefOption)
                            : consume_string(in));
        const std::string type = in.ConsumeBool() ? std::string("b") : random_type(in, 1);
        msg.openVariant(type);
        append_value(msg, in, type, 1);
        msg.closeVariant();
        msg.closeDictEntry();
    }
    msg.closeContainer();
}

void append_declared(sdbus::Message& msg, FuzzedDataProvider& in, Method m) {
    switch (m) {
        case Method::Verify:
            msg << consume_bytes(in) << consume_name(in);
            break;
        case Method::Enroll:
            msg << consume_bytes(in) << consume_name(in);
            append_options(msg, in);
            break;
        case Method::Remove:
            msg << consume_name(in) << consume_name(in);
            break;
        case Method::Seal:
            msg << consume_name(in);
            break;
        case Method::kCount:
            break;
    }
}

// ---------------------------------------------------------------------------
// Decoding and checking, as ManagerObject's handlers do before queueing
// work or asking the authorizer: the same service::arguments checks.

void decode_and_check(sdbus::Message& msg, Method m) {
    namespace arguments = service::arguments;
    switch (m) {
        case Method::Verify: {
            std::vector<std::uint8_t> certificates;
            std::string keyring;
            msg >> certificates >> keyring;
            const auto checked = arguments::check_verify(certificates, keyring);
            expect(to_string(checked.keyring) == keyring, "a keyring argument is a keyring's name");
            expect(certificates.size() <= arguments::kMaxBundleBytes, "the bundle is bounded");
            break;
        }
        case Method::Enroll: {
            std::vector<std::uint8_t> certificates;
            std::string keyring;
            std::map<std::string, sdbus::Variant> options;
            msg >> certificates >> keyring >> options;
            const auto checked =
                arguments::check_enroll(certificates, keyring, service::option_arguments(options));
            expect(certificates.size() <= arguments::kMaxBundleBytes, "the bundle is bounded");
            // Only the known options (b) get through, each read as sent.
            std::size_t known = 0;
            if (auto it = options.find(bus_api::kPartialOption); it != options.end()) {
                expect(checked.options.partial == it->second.get<bool>(),
                       "partial is read as sent");
                ++known;
            }
            if (auto it = options.find(bus_api::kBriefOption); it != options.end()) {
                expect(checked.options.brief == it->second.get<bool>(), "brief is read as sent");
                ++known;
            }
            expect(options.size() == known, "an unknown option is refused");
            break;
        }
        case Method::Remove: {
            std::string fingerprint;
            std::string keyring;
            msg >> fingerprint >> keyring;
            const auto checked = arguments::check_remove(fingerprint, keyring);
            expect(Fingerprint::parse(checked.fingerprint.to_string()) == checked.fingerprint,
                   "a fingerprint prints and parses back");
            expect(to_string(checked.keyring) == keyring, "a keyring argument is a keyring's name");
            break;
        }
        case Method::Seal: {
            std::string keyring;
            msg >> keyring;
            const LogicalKeyring k = arguments::check_seal(keyring);
            expect(to_string(k) == keyring, "a keyring argument is a keyring's name");
            break;
        }
        case Method::kCount:
            break;
    }
}

// The refusal goes back to the caller as an error reply: its name must be
// ours and it must fit in a D-Bus message (a message that is not UTF-8
// cannot be appended, so the caller would get no reply at all).
void check_refusal(std::exception_ptr error) {
    const sdbus::Error reply = service::to_bus_error(error);
    ErrorCode code{};
    if (!error_code_from_dbus_name(reply.getName(), code) || code != ErrorCode::InvalidArgument) {
        broken("an argument is refused with " + reply.getName() + ": " + reply.getMessage());
    }
    auto probe = sdbus::createPlainMessage();
    try {
        probe << reply.getName() << reply.getMessage();
    } catch (const sdbus::Error& e) {
        broken("the refusal cannot be sent: " + e.getMessage());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    const auto m = static_cast<Method>(
        in.ConsumeIntegralInRange<int>(0, static_cast<int>(Method::kCount) - 1));
    const bool wrong_types = in.ConsumeIntegralInRange(0, 7) == 0;

    auto msg = sdbus::createPlainMessage();
    try {
        if (wrong_types) {
            // Whatever a hostile caller might send instead.
            const auto n = in.ConsumeIntegralInRange(0, 4);
            for (int i = 0; i < n; ++i) {
                const std::string type = random_type(in, 0);
                append_value(msg, in, type, 0);
            }
        } else {
            append_declared(msg, in, m);
        }
        msg.seal();
    } catch (const sdbus::Error&) {
        return 0;  // sd-bus itself refuses to build it: no caller can send it
    }
    msg.rewind(true);

    try {
        decode_and_check(msg, m);
    } catch (const sdbus::Error&) {
        // The arguments do not have the declared types: the adaptor answers
        // with sdbus-c++'s own error (sd-bus already refuses such a call by
        // its signature before that).
        expect(wrong_types, "a well-typed call decodes");
    } catch (const Error&) {
        check_refusal(std::current_exception());
    }
    return 0;
}
