// Every figure of one benchmark run, and its two renderings: a markdown
// table for people and a JSON document for programs.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace anchord::bench {

// One contender's figure over the repetitions (warm-up excluded).
struct Series {
    std::string id;     // "add_key", "anchord_enroll_batch", ...
    std::string label;  // what a person reads in the table
    std::vector<double> runs;
    // Enrollment only: CPU time per certificate of every process doing the
    // work (anchord and dbus-daemon, the spawned tools, or the benchmark's
    // own thread for the floor), so that a loaded machine's waiting for a
    // CPU shows apart from the work.
    std::vector<double> cpu_runs;
    std::string skipped;  // non-empty: not measured, and why

    bool measured() const { return skipped.empty() && !runs.empty(); }
    double median() const;
};

// One query's latency over many calls (warm-up excluded), microseconds, in
// several runs of calls.
struct Latency {
    std::string id;
    std::string label;
    std::vector<std::vector<double>> runs_us;
    std::size_t result_size = 0;  // keys in the answer (or bytes, for /proc/keys)
    std::string skipped;

    bool measured() const { return skipped.empty() && !runs_us.empty() && !runs_us[0].empty(); }
    // The median over the runs of each run's percentile: a moment of load on
    // the machine spoils one run's tail, not the figure.
    double percentile(double p) const;
    std::vector<double> all_samples() const;
};

struct Target {
    std::string what;
    std::string rule;          // "<= 1.3x floor"
    std::string value;         // the measured figure, as shown
    std::optional<bool> pass;  // nullopt: not measured
};

struct Machine {
    std::string kernel;  // uname -r
    std::string cpu;     // /proc/cpuinfo "model name"
    unsigned cpus = 0;
    std::string load_before;  // /proc/loadavg at start and end
    std::string load_after;
    std::string started_at;  // UTC, ISO 8601
    double seconds = 0;      // the whole run
};

struct Results {
    Machine machine;
    std::size_t n = 0;
    std::size_t repetitions = 0;
    std::size_t batch = 0;  // certificates per Enroll call
    std::size_t query_calls = 0;
    std::size_t leaves_p256 = 0;
    std::size_t leaves_rsa2048 = 0;
    bool certificates_reused = false;
    std::string anchord_version;

    // 1. microseconds per certificate; enrollment[0] is the add_key floor.
    std::vector<Series> enrollment;
    // 2. latencies.
    Latency keys_property;
    Latency managed_objects;
    Latency proc_keys;
    Latency keyutils_list;
    // 3. milliseconds.
    Series startup_anchord;        // N certificates in the state
    Series startup_serving;        // the same start, until the bus name is owned
    Series startup_floor;          // add_key of the same DER blobs
    Series startup_anchord_empty;  // empty state
    // 4. KiB.
    Series rss_idle_empty;
    Series rss_idle_full;
    Series peak_rss_full;
    Series anon_rss_full;  // RssAnon: what anchord itself allocated
    Series pss_full;       // Pss: shared library pages divided among their users
    Series rss_floor;      // anchord_idle_floor: anchord's libraries, idle (bench/idle_floor.cpp)
    std::optional<double> rss_after_queries_kib;

    std::vector<Target> targets() const;
};

std::string to_markdown(const Results& results);
std::string to_json(const Results& results);  // pretty-printed

}  // namespace anchord::bench
