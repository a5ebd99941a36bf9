// Structured logging of every decision anchord makes. Under journald each
// entry carries a MESSAGE_ID per kind of event and the fields KEYRING,
// FINGERPRINT, CALLER_UID and VERDICT, so that `journalctl MESSAGE_ID=...`
// or `journalctl KEYRING=ima` finds them. Elsewhere (a terminal, a test, a
// service manager without journald) each entry is one human line on stderr:
//
//   anchord: <message> (event=enrolled keyring=ima fingerprint=sha256:.. caller_uid=0 verdict=..)
//
// Warnings and errors say so after "anchord: ". Fields that are not set are
// left out; values with blanks are double-quoted; control characters in the
// message are escaped so an entry is always one line.
#pragma once

#include <syslog.h>  // LOG_ERR, LOG_WARNING, LOG_INFO, ... for `priority`

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "anchord/types.hpp"

namespace anchord::journal {

enum class Event {
    Enrolled,             // a certificate was linked and recorded
    Refused,              // a certificate was refused (policy or kernel)
    Removed,              // a certificate was unlinked and forgotten
    Sealed,               // a keyring was sealed
    Drift,                // the kernel's keyrings differ from the record
    Reapplied,            // a recorded certificate was linked again (boot, reconcile)
    ProvisioningRefused,  // a drop-in certificate was refused
    PolicyLoaded,         // a policy was loaded (start, SIGHUP, ReloadPolicy)
    Started,              // anchord is serving
    Stopping,             // anchord is shutting down
};

// The journal's MESSAGE_ID of each event: fixed 128-bit ids, never reused.
namespace message_ids {
inline constexpr std::string_view enrolled = "11e05591ba6447be87bb7fcc36788953";
inline constexpr std::string_view refused = "7b61eeabfb964dbcb3d809fa7977544a";
inline constexpr std::string_view removed = "432e526923344524a0decab4be68c4cc";
inline constexpr std::string_view sealed = "ad26538892574268af220f053df49615";
inline constexpr std::string_view drift = "35bc9250a0754bd9a95931b9800c0572";
inline constexpr std::string_view reapplied = "d5377233b6bb44549737db8e1aded219";
inline constexpr std::string_view provisioning_refused = "4b8e7806c29e4d99b4fe194f6b08f918";
inline constexpr std::string_view policy_loaded = "7db793a41c004569839717974a9aad17";
inline constexpr std::string_view started = "4818015a6634419cab159f4710dceb39";
inline constexpr std::string_view stopping = "6668d1aab2634d5bbe8a5c0680ea9bff";
}  // namespace message_ids

inline constexpr Event kAllEvents[] = {Event::Enrolled,
                                       Event::Refused,
                                       Event::Removed,
                                       Event::Sealed,
                                       Event::Drift,
                                       Event::Reapplied,
                                       Event::ProvisioningRefused,
                                       Event::PolicyLoaded,
                                       Event::Started,
                                       Event::Stopping};

std::string_view message_id(Event event) noexcept;
std::string_view event_name(Event event) noexcept;  // "enrolled", "provisioning-refused", ...

struct Fields {
    std::optional<LogicalKeyring> keyring;
    std::optional<Fingerprint> fingerprint;
    std::optional<std::uint32_t> caller_uid;
    std::string verdict;  // "" when there is none
};

// Where entries go. Auto (the default) chooses the journal when stderr is
// connected to journald (JOURNAL_STREAM names stderr's device and inode and
// /run/systemd/journal/socket exists), stderr otherwise.
enum class Sink { Auto, Journal, Stderr };
void set_sink(Sink sink) noexcept;
bool stderr_is_journald();

// `priority` is a syslog level: LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG.
void log(Event event, int priority, std::string_view message, const Fields& fields = {});
// An entry that is no decision (no MESSAGE_ID): bus trouble, a retry, ...
void log(int priority, std::string_view message, const Fields& fields = {});

inline void info(Event e, std::string_view m, const Fields& f = {}) {
    log(e, LOG_INFO, m, f);
}
inline void warning(Event e, std::string_view m, const Fields& f = {}) {
    log(e, LOG_WARNING, m, f);
}
inline void error(Event e, std::string_view m, const Fields& f = {}) {
    log(e, LOG_ERR, m, f);
}

// The stderr line (with its trailing newline) of an entry; exposed for tests.
std::string format_line(std::optional<Event> event, int priority, std::string_view message,
                        const Fields& fields);

}  // namespace anchord::journal
