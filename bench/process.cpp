#include "process.hpp"

#include <fcntl.h>
#include <keyutils.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace anchord::bench {
namespace {

namespace fs = std::filesystem;

// Generous: the benchmark may share the machine with builds.
constexpr auto kStartTimeout = std::chrono::seconds(180);
constexpr auto kStopTimeout = std::chrono::seconds(60);

std::runtime_error failure(const std::string& what, int err = 0) {
    return std::runtime_error(what + (err != 0 ? std::string(": ") + std::strerror(err) : ""));
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

void pause_briefly() {
    timespec ts{0, 5'000'000};  // 5 ms between two looks at a child
    ::nanosleep(&ts, nullptr);
}

class SpawnActions {
  public:
    SpawnActions() { posix_spawn_file_actions_init(&actions_); }
    ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
    SpawnActions(const SpawnActions&) = delete;
    SpawnActions& operator=(const SpawnActions&) = delete;
    posix_spawn_file_actions_t* get() { return &actions_; }

  private:
    posix_spawn_file_actions_t actions_;
};

}  // namespace

std::string log_tail(const fs::path& log, std::size_t bytes) {
    std::ifstream in(log, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (text.size() > bytes) text = "..." + text.substr(text.size() - bytes);
    return text;
}

Command::Command(std::vector<std::string> argv, fs::path log)
    : argv_(std::move(argv)), log_(std::move(log)) {
    if (argv_.empty()) throw std::invalid_argument("Command: an empty command line");
}

std::string Command::text() const {
    std::string out;
    for (const auto& a : argv_) out += (out.empty() ? "" : " ") + a;
    return out;
}

void Command::run_with(std::size_t index, const std::string& value,
                       const std::optional<fs::path>& input) {
    argv_.at(index) = value;
    run(input);
}

void Command::run(const std::optional<fs::path>& input) const {
    SpawnActions actions;
    std::string in = input ? input->string() : "/dev/null";
    posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(actions.get(), STDERR_FILENO, log_.c_str(),
                                     O_WRONLY | O_APPEND | O_CREAT, 0644);
    std::vector<char*> argv;
    for (const auto& a : argv_) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = -1;
    int err = posix_spawnp(&pid, argv[0], actions.get(), nullptr, argv.data(), environ);
    if (err != 0) throw failure("cannot start " + text(), err);
    int status = 0;
    rusage usage{};
    while (::wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) throw failure("wait4 for " + text(), errno);
    }
    cpu_ += std::chrono::seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
            std::chrono::microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(text() + (input ? " < " + input->string() : "") + " ended with " +
                                 describe_status(status) + "; its log " + log_.string() +
                                 " ends with:\n" + log_tail(log_));
    }
}

Daemon::Daemon(const DaemonSetup& setup) : setup_(setup) {
    std::string templ = (fs::temp_directory_path() / "anchord-bench-notify.XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw failure("mkdtemp", errno);
    notify_dir_ = templ;
    fs::path socket_path = notify_dir_ / "notify";
    notify_fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
    if (notify_fd_ < 0 ||
        ::bind(notify_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int err = errno;
        if (notify_fd_ >= 0) ::close(notify_fd_);
        fs::remove_all(notify_dir_);
        throw failure("cannot bind " + socket_path.string(), err);
    }

    // Everything the child needs is made before fork: after it, only
    // system calls.
    std::vector<std::string> args = setup_.wrapper;
    for (const auto& a :
         {setup_.binary.string(), std::string("--bus-address"), setup_.bus_address,
          std::string("--sandbox"), setup_.anchors_dir.string(), std::string("--state-dir"),
          setup_.state_dir.string(), std::string("--dropin-dir"), setup_.dropin_dir.string(),
          std::string("--policy"), setup_.policy.string()})
        args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) env_strings.emplace_back(*e);
    }
    env_strings.push_back("NOTIFY_SOCKET=" + socket_path.string());
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    int log = ::open(setup_.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
        int err = errno;
        ::close(notify_fd_);
        fs::remove_all(notify_dir_);
        throw failure("cannot open " + setup_.log.string(), err);
    }

    pid_t parent = ::getpid();
    auto t0 = Clock::now();
    started_at_ = t0;
    pid_ = ::fork();
    if (pid_ == 0) {
        // SIGTERM, not SIGKILL, if the benchmark dies: anchord then clears
        // its sandbox keyrings on the way out.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);
        if (keyctl_join_session_keyring(nullptr) < 0) ::_exit(126);
        int null = ::open("/dev/null", O_RDONLY);
        if (null < 0 || ::dup2(null, STDIN_FILENO) < 0) ::_exit(127);
        if (::dup2(log, STDOUT_FILENO) < 0 || ::dup2(log, STDERR_FILENO) < 0) ::_exit(127);
        ::execvpe(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    int fork_errno = errno;
    ::close(log);
    if (pid_ < 0) {
        ::close(notify_fd_);
        fs::remove_all(notify_dir_);
        throw failure("fork", fork_errno);
    }

    auto deadline = t0 + kStartTimeout;
    std::string error;
    for (;;) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error = "anchord ended with " + describe_status(status) + " before READY=1";
            break;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            error =
                "anchord sent no READY=1 within " + std::to_string(kStartTimeout.count()) + " s";
            break;
        }
        pollfd p{notify_fd_, POLLIN, 0};
        // Short polls, so that a daemon that dies is noticed at once.
        if (::poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 50))) <= 0) continue;
        char buf[4096];
        ssize_t n = ::recv(notify_fd_, buf, sizeof buf, 0);
        auto arrived = Clock::now();
        if (n <= 0) continue;
        std::istringstream lines(std::string(buf, static_cast<std::size_t>(n)));
        bool ready = false;
        for (std::string line; std::getline(lines, line);) ready = ready || line == "READY=1";
        if (ready) {
            startup_ = arrived - t0;
            return;
        }
    }
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }
    ::close(notify_fd_);
    fs::remove_all(notify_dir_);
    throw std::runtime_error(error + "; its log " + setup_.log.string() + " ends with:\n" +
                             log_tail(setup_.log));
}

void Daemon::check_running() {
    if (pid_ <= 0) throw std::runtime_error("anchord is not running");
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("anchord ended with " + describe_status(status) + "; its log " +
                                 setup_.log.string() + " ends with:\n" + log_tail(setup_.log));
    }
}

Daemon::~Daemon() {
    try {
        stop();
    } catch (const std::exception&) {
        // Reported by an explicit stop(); a destructor must not throw.
    }
    if (notify_fd_ >= 0) ::close(notify_fd_);
    std::error_code ec;
    fs::remove_all(notify_dir_, ec);
}

void Daemon::stop() {
    if (pid_ <= 0) return;
    pid_t pid = pid_;
    pid_ = -1;
    ::kill(pid, SIGTERM);
    int status = 0;
    auto deadline = Clock::now() + kStopTimeout;
    while (::waitpid(pid, &status, WNOHANG) != pid) {
        if (Clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            throw std::runtime_error("anchord did not stop within " +
                                     std::to_string(kStopTimeout.count()) + " s of SIGTERM");
        }
        // The notify socket's queue is small; a full one would block anchord.
        char buf[4096];
        while (::recv(notify_fd_, buf, sizeof buf, 0) > 0) {
        }
        pause_briefly();
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("anchord ended with " + describe_status(status) +
                                 " on SIGTERM; its log " + setup_.log.string() + " ends with:\n" +
                                 log_tail(setup_.log));
    }
}

std::uint64_t Daemon::field_kib(const std::string& file, const std::string& field) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/" + file);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(field + ":", 0) == 0) {
            std::istringstream value(line.substr(field.size() + 1));
            std::uint64_t kib = 0;
            value >> kib;
            return kib;
        }
    }
    throw std::runtime_error("no " + field + " in /proc/" + std::to_string(pid_) + "/" + file);
}

Clock::duration process_cpu(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    auto close = text.rfind(')');
    if (close == std::string::npos) return {};
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // After ')': state(3) ... utime is field 14, stime 15.
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    static const long ticks = ::sysconf(_SC_CLK_TCK);
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
        static_cast<double>(utime + stime) / static_cast<double>(ticks)));
}

Clock::duration thread_cpu() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

Attached::Attached(const std::string& command, pid_t pid, const fs::path& log) {
    std::string line = command;
    for (auto at = line.find("{pid}"); at != std::string::npos; at = line.find("{pid}"))
        line.replace(at, 5, std::to_string(pid));
    std::vector<std::string> words;
    std::istringstream split(line);
    for (std::string w; split >> w;) words.push_back(w);
    if (words.empty()) throw std::invalid_argument("--attach: an empty command");
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    SpawnActions actions;
    posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_APPEND | O_CREAT, 0644);
    posix_spawn_file_actions_adddup2(actions.get(), STDOUT_FILENO, STDERR_FILENO);
    int err = posix_spawnp(&pid_, argv[0], actions.get(), nullptr, argv.data(), environ);
    if (err != 0) throw failure("cannot start " + line, err);
    // Let the profiler attach before the measured work begins.
    timespec ts{1, 0};
    ::nanosleep(&ts, nullptr);
}

void Attached::finish() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGINT);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

std::uint64_t Daemon::rss_kib() const {
    return field_kib("status", "VmRSS");
}
std::uint64_t Daemon::peak_rss_kib() const {
    return field_kib("status", "VmHWM");
}
std::uint64_t Daemon::anon_rss_kib() const {
    return field_kib("status", "RssAnon");
}
std::uint64_t Daemon::pss_kib() const {
    return field_kib("smaps_rollup", "Pss");
}

}  // namespace anchord::bench
