// Structured logging: the stderr line outside journald, and the native
// journal protocol inside it (a journald socket of the test's own, in a
// private mount namespace).
#include "journal/journal.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace anchord::journal {
namespace {

const Fingerprint kFingerprint =
    *Fingerprint::parse("sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");

// Redirects fd 2 into a temporary file for its lifetime.
class StderrCapture {
  public:
    StderrCapture() {
        char name[] = "/tmp/anchord-journal-test.XXXXXX";
        file_ = ::mkstemp(name);
        ::unlink(name);
        saved_ = ::dup(STDERR_FILENO);
        ::dup2(file_, STDERR_FILENO);
    }
    ~StderrCapture() { restore(); }
    std::string text() {
        restore();
        std::string out;
        ::lseek(file_, 0, SEEK_SET);
        char buf[4096];
        ssize_t n;
        while ((n = ::read(file_, buf, sizeof buf)) > 0)
            out.append(buf, static_cast<std::size_t>(n));
        return out;
    }

  private:
    void restore() {
        if (saved_ >= 0) {
            ::dup2(saved_, STDERR_FILENO);
            ::close(saved_);
            saved_ = -1;
        }
    }
    int file_ = -1;
    int saved_ = -1;
};

class JournalTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const char* js = std::getenv("JOURNAL_STREAM");
        if (js != nullptr) saved_stream_ = js;
        ::unsetenv("JOURNAL_STREAM");
        set_sink(Sink::Auto);
    }
    void TearDown() override {
        if (saved_stream_) {
            ::setenv("JOURNAL_STREAM", saved_stream_->c_str(), 1);
        } else {
            ::unsetenv("JOURNAL_STREAM");
        }
        set_sink(Sink::Auto);
    }
    std::optional<std::string> saved_stream_;
};

TEST(JournalIds, MessageIdsAreDistinct128BitIds) {
    std::set<std::string_view> ids, names;
    for (Event e : kAllEvents) {
        std::string_view id = message_id(e);
        ASSERT_EQ(id.size(), 32u) << event_name(e);
        EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string_view::npos) << id;
        EXPECT_NE(id, "00000000000000000000000000000000");
        ids.insert(id);
        names.insert(event_name(e));
    }
    EXPECT_EQ(ids.size(), std::size(kAllEvents));
    EXPECT_EQ(names.size(), std::size(kAllEvents));
    EXPECT_EQ(message_id(Event::Enrolled), message_ids::enrolled);
    EXPECT_EQ(message_id(Event::Stopping), message_ids::stopping);
    EXPECT_EQ(event_name(Event::ProvisioningRefused), "provisioning-refused");
    EXPECT_EQ(event_name(Event::PolicyLoaded), "policy-loaded");
}

TEST_F(JournalTest, OutsideJournaldEveryFieldGoesToStderr) {
    EXPECT_FALSE(stderr_is_journald());
    StderrCapture capture;
    log(Event::Enrolled, LOG_INFO, "enrolled a test certificate",
        Fields{LogicalKeyring::Ima, kFingerprint, 1000, "accepted"});
    EXPECT_EQ(capture.text(),
              "anchord: enrolled a test certificate (event=enrolled keyring=ima "
              "fingerprint=sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff "
              "caller_uid=1000 verdict=accepted)\n");
}

TEST_F(JournalTest, StderrLineShapes) {
    StderrCapture capture;
    warning(Event::Drift, "keyring drifted",
            Fields{LogicalKeyring::Evm, std::nullopt, std::nullopt, ""});
    error(Event::Refused, "refused\nforged line",
          Fields{std::nullopt, std::nullopt, 0, "policy rejected"});
    log(LOG_NOTICE, "plain note");
    EXPECT_EQ(capture.text(),
              "anchord: warning: keyring drifted (event=drift keyring=evm)\n"
              "anchord: error: refused\\nforged line (event=refused caller_uid=0 "
              "verdict=\"policy rejected\")\n"
              "anchord: plain note\n");
}

TEST_F(JournalTest, AJournalStreamThatIsNotStderrMeansStderr) {
    // Inherited from a parent whose stderr went to journald, but ours does not.
    ::setenv("JOURNAL_STREAM", "1:1", 1);
    EXPECT_FALSE(stderr_is_journald());
    StderrCapture capture;
    info(Event::Started, "serving", Fields{});
    EXPECT_EQ(capture.text(), "anchord: serving (event=started)\n");
}

// Parses the native journal protocol: "KEY=value\n", or "KEY\n" + 64-bit
// little-endian length + value + "\n" for values with newlines.
std::map<std::string, std::string> parse_native(const std::string& d) {
    std::map<std::string, std::string> out;
    std::size_t i = 0;
    while (i < d.size()) {
        auto nl = d.find('\n', i);
        auto eq = d.find('=', i);
        if (nl == std::string::npos) break;
        if (eq != std::string::npos && eq < nl) {
            out[d.substr(i, eq - i)] = d.substr(eq + 1, nl - eq - 1);
            i = nl + 1;
        } else {
            std::string key = d.substr(i, nl - i);
            std::uint64_t len = 0;
            std::memcpy(&len, d.data() + nl + 1, 8);
            out[key] = d.substr(nl + 9, len);
            i = nl + 9 + len + 1;
        }
    }
    return out;
}

// Under journald (JOURNAL_STREAM names stderr, the socket exists) the entry
// goes to the journal socket with its fields, and nothing to stderr.
TEST_F(JournalTest, UnderJournaldTheFieldsReachTheJournalSocket) {
    int report[2];
    ASSERT_EQ(::pipe(report), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(report[0]);
        auto done = [&](const std::string& text) {
            ssize_t ignored = ::write(report[1], text.data(), text.size());
            (void)ignored;
            ::_exit(0);
        };
        // A journald socket of our own, visible only in this namespace.
        if (::unshare(CLONE_NEWNS) != 0) done(std::string("SKIP unshare: ") + std::strerror(errno));
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            done(std::string("SKIP mount --make-rprivate: ") + std::strerror(errno));
        }
        ::mkdir("/run", 0755);
        ::mkdir("/run/systemd", 0755);
        if (::mount("tmpfs", "/run/systemd", "tmpfs", 0, "size=1m") != 0) {
            done(std::string("SKIP tmpfs on /run/systemd: ") + std::strerror(errno));
        }
        ::mkdir("/run/systemd/journal", 0755);
        int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strcpy(addr.sun_path, "/run/systemd/journal/socket");
        if (sock < 0 || ::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            done(std::string("FAIL bind: ") + std::strerror(errno));
        }
        // stderr is a file whose dev:ino JOURNAL_STREAM names, as systemd does.
        char name[] = "/tmp/anchord-journal-stream.XXXXXX";
        int err_file = ::mkstemp(name);
        ::unlink(name);
        ::dup2(err_file, STDERR_FILENO);
        struct stat st {};
        ::fstat(STDERR_FILENO, &st);
        std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
        ::setenv("JOURNAL_STREAM", stream.c_str(), 1);
        if (!stderr_is_journald()) done("FAIL stderr_is_journald() is false");

        log(Event::Sealed, LOG_NOTICE, "sealed the keyring",
            Fields{LogicalKeyring::Ima, kFingerprint, 4242, "sealed"});

        pollfd p{sock, POLLIN, 0};
        if (::poll(&p, 1, 10000) != 1) done("FAIL no datagram on the journal socket");
        std::string datagram(65536, '\0');
        ssize_t n = ::recv(sock, datagram.data(), datagram.size(), 0);
        if (n <= 0) done(std::string("FAIL recv: ") + std::strerror(errno));
        datagram.resize(static_cast<std::size_t>(n));
        if (::lseek(err_file, 0, SEEK_END) != 0) done("FAIL the entry also went to stderr");
        done("OK " + datagram);
    }
    ::close(report[1]);
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(report[0], buf, sizeof buf)) > 0)
        text.append(buf, static_cast<std::size_t>(n));
    ::close(report[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (text.starts_with("SKIP")) GTEST_SKIP() << text;
    ASSERT_TRUE(text.starts_with("OK ")) << text;

    auto fields = parse_native(text.substr(3));
    EXPECT_EQ(fields["MESSAGE"], "sealed the keyring");
    EXPECT_EQ(fields["MESSAGE_ID"], message_ids::sealed);
    EXPECT_EQ(fields["PRIORITY"], std::to_string(LOG_NOTICE));
    EXPECT_EQ(fields["KEYRING"], "ima");
    EXPECT_EQ(fields["FINGERPRINT"], kFingerprint.to_string());
    EXPECT_EQ(fields["CALLER_UID"], "4242");
    EXPECT_EQ(fields["VERDICT"], "sealed");
    EXPECT_EQ(fields["SYSLOG_IDENTIFIER"], "anchord");
    EXPECT_EQ(fields["ANCHORD_EVENT"], "sealed");
}

}  // namespace
}  // namespace anchord::journal
