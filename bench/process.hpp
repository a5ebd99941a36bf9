// Child processes for the benchmark: one-shot commands (anchorctl, keyctl,
// evmctl) and anchord itself, started in a fresh session keyring with a
// NOTIFY_SOCKET of ours so that its start-up can be timed to READY=1.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace anchord::bench {

using Clock = std::chrono::steady_clock;

// A command prepared once and run many times with posix_spawn, its stdout
// discarded and its stderr appended to `log`.
class Command {
  public:
    Command(std::vector<std::string> argv, std::filesystem::path log);
    // Runs it to completion, stdin from `input` when given (else /dev/null).
    // Throws std::runtime_error naming the command and quoting the end of
    // the log when it cannot be started or does not exit 0.
    void run(const std::optional<std::filesystem::path>& input = std::nullopt) const;
    // The same with argument `index` replaced first (the file of each run).
    void run_with(std::size_t index, const std::string& value,
                  const std::optional<std::filesystem::path>& input = std::nullopt);
    std::string text() const;  // the command line, for messages
    // CPU time (user + system) of every run so far, from wait4.
    Clock::duration cpu() const { return cpu_; }

  private:
    std::vector<std::string> argv_;
    std::filesystem::path log_;
    mutable Clock::duration cpu_{};
};

// CPU time (user + system) a process has used so far, from /proc/PID/stat;
// zero when it cannot be read.
Clock::duration process_cpu(pid_t pid);
// The calling thread's CPU time (user + system).
Clock::duration thread_cpu();

// A profiler attached to a running process for a while: `command` with
// "{pid}" replaced, started now, and on finish() (or destruction) sent
// SIGINT and reaped, so that it writes its report (strace -c, perf record).
class Attached {
  public:
    Attached(const std::string& command, pid_t pid, const std::filesystem::path& log);
    Attached(const Attached&) = delete;
    Attached& operator=(const Attached&) = delete;
    ~Attached() { finish(); }
    void finish();

  private:
    pid_t pid_ = -1;
};

// The tail of a log file, for error messages.
std::string log_tail(const std::filesystem::path& log, std::size_t bytes = 2000);

struct DaemonSetup {
    std::filesystem::path binary;
    std::filesystem::path policy;
    std::filesystem::path anchors_dir;  // --sandbox
    std::filesystem::path dropin_dir;
    std::filesystem::path state_dir;
    std::filesystem::path log;  // stdout and stderr, appended
    std::string bus_address;
    // Put before anchord's command line (valgrind --tool=callgrind ...);
    // the wrapper must keep anchord's pid (exec, not fork).
    std::vector<std::string> wrapper;
};

// anchord in sandbox mode, in a session keyring of its own (joined between
// fork and exec), so every start sees empty keyrings as after a reboot.
class Daemon {
  public:
    // Starts it and waits (bounded) for READY=1. Throws std::runtime_error,
    // with the log's tail, when it exits or stays silent.
    explicit Daemon(const DaemonSetup& setup);
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;
    ~Daemon();  // stop()

    // From just before fork to the READY=1 datagram's arrival.
    Clock::duration startup() const { return startup_; }
    // Just before fork.
    Clock::time_point started_at() const { return started_at_; }
    // Still running? Reaps it, and throws with the log's tail, when it ended.
    void check_running();
    pid_t pid() const { return pid_; }
    // VmRSS, VmHWM and RssAnon from /proc/PID/status, and Pss (its share
    // of pages shared with other processes) from /proc/PID/smaps_rollup, in KiB.
    std::uint64_t rss_kib() const;
    std::uint64_t peak_rss_kib() const;
    std::uint64_t anon_rss_kib() const;
    std::uint64_t pss_kib() const;
    // CPU time (user + system, all threads) it has used so far.
    Clock::duration cpu() const { return process_cpu(pid_); }
    // SIGTERM, then a bounded wait; SIGKILL if it does not go. Throws when
    // it exits with a status other than 0 (the log says why).
    void stop();

  private:
    std::uint64_t field_kib(const std::string& file, const std::string& field) const;

    DaemonSetup setup_;
    std::filesystem::path notify_dir_;
    int notify_fd_ = -1;
    pid_t pid_ = -1;
    Clock::time_point started_at_{};
    Clock::duration startup_{};
};

}  // namespace anchord::bench
