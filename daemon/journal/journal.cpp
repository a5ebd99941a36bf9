#include "journal/journal.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

namespace anchord::journal {
namespace {

struct EventInfo {
    Event event;
    std::string_view name;
    std::string_view id;
};

constexpr std::array<EventInfo, 10> kEvents{{
    {Event::Enrolled, "enrolled", message_ids::enrolled},
    {Event::Refused, "refused", message_ids::refused},
    {Event::Removed, "removed", message_ids::removed},
    {Event::Sealed, "sealed", message_ids::sealed},
    {Event::Drift, "drift", message_ids::drift},
    {Event::Reapplied, "reapplied", message_ids::reapplied},
    {Event::ProvisioningRefused, "provisioning-refused", message_ids::provisioning_refused},
    {Event::PolicyLoaded, "policy-loaded", message_ids::policy_loaded},
    {Event::Started, "started", message_ids::started},
    {Event::Stopping, "stopping", message_ids::stopping},
}};

std::atomic<Sink> g_sink{Sink::Auto};

constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

// One line, whatever the message holds: a newline in a quoted certificate
// subject must not forge a second log entry.
void append_escaped(std::string& out, std::string_view text) {
    for (unsigned char c : text) {
        if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
}

void append_value(std::string& out, std::string_view value) {
    bool quote = value.empty() || value.find_first_of(" \t\"") != std::string_view::npos;
    if (!quote) {
        append_escaped(out, value);
        return;
    }
    out.push_back('"');
    for (char c : value) {
        if (c == '"' || c == '\\') out.push_back('\\');
        append_escaped(out, std::string_view(&c, 1));
    }
    out.push_back('"');
}

void write_stderr(const std::string& line) {
    // One write per entry, so lines from several threads do not interleave.
    std::string_view rest = line;
    while (!rest.empty()) {
        ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // nowhere left to complain to
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
}

bool send_to_journal(std::optional<Event> event, int priority, std::string_view message,
                     const Fields& fields) {
    std::vector<std::string> items;
    items.reserve(9);
    items.push_back("MESSAGE=" + std::string(message));
    items.push_back("PRIORITY=" + std::to_string(priority));
    items.push_back("SYSLOG_IDENTIFIER=anchord");
    if (event) {
        items.push_back("MESSAGE_ID=" + std::string(message_id(*event)));
        items.push_back("ANCHORD_EVENT=" + std::string(event_name(*event)));
    }
    if (fields.keyring) items.push_back("KEYRING=" + std::string(to_string(*fields.keyring)));
    if (fields.fingerprint) items.push_back("FINGERPRINT=" + fields.fingerprint->to_string());
    if (fields.caller_uid) items.push_back("CALLER_UID=" + std::to_string(*fields.caller_uid));
    if (!fields.verdict.empty()) items.push_back("VERDICT=" + fields.verdict);

    std::vector<iovec> iov;
    iov.reserve(items.size());
    for (auto& item : items) iov.push_back({item.data(), item.size()});
    return sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0;
}

void emit(std::optional<Event> event, int priority, std::string_view message,
          const Fields& fields) {
    Sink sink = g_sink.load(std::memory_order_relaxed);
    bool journal = sink == Sink::Journal || (sink == Sink::Auto && stderr_is_journald());
    // If journald refuses the entry, stderr still gets it: a decision is
    // never logged nowhere.
    if (journal && send_to_journal(event, priority, message, fields)) return;
    write_stderr(format_line(event, priority, message, fields));
}

}  // namespace

std::string_view message_id(Event event) noexcept {
    for (const auto& e : kEvents) {
        if (e.event == event) return e.id;
    }
    return {};
}

std::string_view event_name(Event event) noexcept {
    for (const auto& e : kEvents) {
        if (e.event == event) return e.name;
    }
    return "?";
}

void set_sink(Sink sink) noexcept {
    g_sink.store(sink, std::memory_order_relaxed);
}

bool stderr_is_journald() {
    if (::access(kJournalSocket, F_OK) != 0) return false;
    const char* stream = std::getenv("JOURNAL_STREAM");
    if (stream == nullptr) return false;
    // "DEVICE:INODE", both decimal, as systemd sets it for the service's stderr.
    std::string_view text(stream);
    auto colon = text.find(':');
    if (colon == std::string_view::npos) return false;
    unsigned long long dev = 0, ino = 0;
    auto parse = [](std::string_view s, unsigned long long& v) {
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
    };
    if (!parse(text.substr(0, colon), dev) || !parse(text.substr(colon + 1), ino)) return false;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return false;
    return st.st_dev == dev && st.st_ino == ino;
}

std::string format_line(std::optional<Event> event, int priority, std::string_view message,
                        const Fields& fields) {
    std::string line = "anchord: ";
    if (priority <= LOG_ERR) {
        line += "error: ";
    } else if (priority == LOG_WARNING) {
        line += "warning: ";
    }
    append_escaped(line, message);

    std::string details;
    auto add = [&](std::string_view key, std::string_view value) {
        if (!details.empty()) details.push_back(' ');
        details += key;
        details.push_back('=');
        append_value(details, value);
    };
    if (event) add("event", event_name(*event));
    if (fields.keyring) add("keyring", to_string(*fields.keyring));
    if (fields.fingerprint) add("fingerprint", fields.fingerprint->to_string());
    if (fields.caller_uid) add("caller_uid", std::to_string(*fields.caller_uid));
    if (!fields.verdict.empty()) add("verdict", fields.verdict);
    if (!details.empty()) line += " (" + details + ")";
    line.push_back('\n');
    return line;
}

void log(Event event, int priority, std::string_view message, const Fields& fields) {
    emit(event, priority, message, fields);
}

void log(int priority, std::string_view message, const Fields& fields) {
    emit(std::nullopt, priority, message, fields);
}

}  // namespace anchord::journal
