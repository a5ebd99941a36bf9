#include "process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>

extern char** environ;

namespace anchorctl::testing {
namespace {

// A hung anchorctl fails the test instead of hanging the suite.
constexpr auto kRunTimeout = std::chrono::seconds(60);

class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        reset();
        fd_ = std::exchange(other.fd_, -1);
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
};

std::pair<Fd, Fd> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
    return {Fd(fds[0]), Fd(fds[1])};
}

std::vector<std::string> child_environment(const RunOptions& options) {
    std::map<std::string, std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string entry = *e;
        const auto eq = entry.find('=');
        if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (const auto& [name, value] : options.env) {
        if (value) {
            env[name] = *value;
        } else {
            env.erase(name);
        }
    }
    std::vector<std::string> out;
    for (const auto& [name, value] : env) out.push_back(name + "=" + value);
    return out;
}

}  // namespace

std::string anchorctl_path() {
    return std::string(ANCHORD_BINARY_DIR) + "/client/anchorctl";
}

RunResult run_anchorctl(const std::vector<std::string>& args, const RunOptions& options) {
    std::vector<std::string> argv_strings{anchorctl_path()};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto env_strings = child_environment(options);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    auto [in_read, in_write] = make_pipe();
    auto [err_read, err_write] = make_pipe();
    Fd out_read, out_write;
    if (options.stdout_tty) {
        int master = -1, slave = -1;
        if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
            throw std::runtime_error(std::string("openpty: ") + std::strerror(errno));
        }
        out_read = Fd(master);
        out_write = Fd(slave);
    } else {
        std::tie(out_read, out_write) = make_pipe();
    }
    std::optional<gid_t> gid;
    if (options.uid) {
        const passwd* pw = ::getpwuid(*options.uid);
        gid = pw != nullptr ? pw->pw_gid : *options.uid;
    }

    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        ::dup2(in_read.get(), STDIN_FILENO);
        ::dup2(out_write.get(), STDOUT_FILENO);
        ::dup2(err_write.get(), STDERR_FILENO);
        if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) ::_exit(125);
        if (options.uid) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(*gid) != 0 ||
                ::setuid(*options.uid) != 0) {
                ::_exit(126);
            }
        }
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    in_read.reset();
    out_write.reset();
    err_write.reset();

    RunResult result;
    std::size_t written = 0;
    if (options.input.empty()) in_write.reset();
    const auto deadline = std::chrono::steady_clock::now() + kRunTimeout;
    bool timed_out = false;
    while (out_read.get() >= 0 || err_read.get() >= 0) {
        std::vector<pollfd> fds;
        if (out_read.get() >= 0) fds.push_back({out_read.get(), POLLIN, 0});
        if (err_read.get() >= 0) fds.push_back({err_read.get(), POLLIN, 0});
        if (in_write.get() >= 0) fds.push_back({in_write.get(), POLLOUT, 0});
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (const auto& p : fds) {
            if (p.revents == 0) continue;
            if (p.fd == in_write.get()) {
                const ssize_t n =
                    ::write(p.fd, options.input.data() + written, options.input.size() - written);
                if (n > 0) written += static_cast<std::size_t>(n);
                if (n < 0 || written == options.input.size()) in_write.reset();
                continue;
            }
            char buffer[8192];
            const ssize_t n = ::read(p.fd, buffer, sizeof buffer);
            if (n > 0) {
                (p.fd == out_read.get() ? result.out : result.err)
                    .append(buffer, static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                // End of output (a pty's master reads EIO once the child is gone).
                if (p.fd == out_read.get()) {
                    out_read.reset();
                } else {
                    err_read.reset();
                }
            }
        }
    }
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.exit_status = (!timed_out && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
    return result;
}

std::optional<std::string> shell_output(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    if (!pipe) return std::nullopt;
    std::string out;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get())) out.append(buffer, n);
    if (::pclose(pipe.release()) != 0) return std::nullopt;
    return out;
}

}  // namespace anchorctl::testing
