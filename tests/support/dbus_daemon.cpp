#include "dbus_daemon.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace anchord::testing {
namespace {

constexpr const char* kDbusDaemon = "/usr/bin/dbus-daemon";
// Generous: a loaded CI machine can take a while to exec and bind.
constexpr auto kStartTimeout = std::chrono::seconds(30);

std::runtime_error failure(const std::string& what, int err = 0) {
    return std::runtime_error("PrivateBus: " + what +
                              (err != 0 ? std::string(": ") + std::strerror(err) : ""));
}

std::string config_text(const std::string& dir, const std::string& extra) {
    return "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
           " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig>\n"
           "  <type>session</type>\n"
           "  <listen>unix:path=" +
           dir +
           "/bus</listen>\n"
           "  <auth>EXTERNAL</auth>\n"
           "  <policy context=\"default\">\n"
           // Without it only the daemon's own uid may connect.
           "    <allow user=\"*\"/>\n"
           "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
           "    <allow eavesdrop=\"true\"/>\n"
           "    <allow own=\"*\"/>\n"
           "  </policy>\n" +
           extra + "</busconfig>\n";
}

}  // namespace

PrivateBus::PrivateBus(const std::string& extra_config) {
    std::string templ = (std::filesystem::temp_directory_path() / "anchord-bus.XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw failure("mkdtemp", errno);
    dir_ = templ;
    auto cleanup_dir = [&] {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    };
    if (::chmod(dir_.c_str(), 0755) != 0) {
        int err = errno;
        cleanup_dir();
        throw failure("chmod " + dir_, err);
    }
    std::string config = dir_ + "/bus.conf";
    {
        std::ofstream out(config);
        out << config_text(dir_, extra_config);
        if (!out) {
            cleanup_dir();
            throw failure("cannot write " + config);
        }
    }

    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        int err = errno;
        cleanup_dir();
        throw failure("pipe2", err);
    }
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls.
    std::string config_arg = "--config-file=" + config;
    std::vector<char*> argv{const_cast<char*>(kDbusDaemon), config_arg.data(),
                            const_cast<char*>("--print-address"), const_cast<char*>("--nofork"),
                            nullptr};
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) {
        int err = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        cleanup_dir();
        throw failure("fork", err);
    }
    if (pid_ == 0) {
        // Dies with the test process even if the destructor never runs.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);
        if (::dup2(fds[1], STDOUT_FILENO) < 0) ::_exit(127);
        ::execv(kDbusDaemon, argv.data());
        ::_exit(127);
    }
    ::close(fds[1]);

    // Read the address line, bounded in time.
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    std::string error;
    while (out.find('\n') == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            error = "dbus-daemon printed no address within " +
                    std::to_string(kStartTimeout.count()) + " s";
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            error = std::string("poll: ") + std::strerror(errno);
            break;
        }
        if (r == 0) continue;
        char buf[512];
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = "dbus-daemon exited before printing its address (see its stderr above)";
            break;
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    if (!error.empty()) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        cleanup_dir();
        throw failure(error);
    }
    address_ = out.substr(0, out.find('\n'));
}

PrivateBus::~PrivateBus() {
    if (pid_ > 0) {
        ::kill(pid_, SIGTERM);
        while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

}  // namespace anchord::testing
