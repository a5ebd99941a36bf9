// anchord_bench: enrollment, queries, start-up and memory of anchord,
// against the kernel's own floor (plain add_key in process) and the shell
// tools people use instead (keyctl padd, evmctl import), in one run on one
// machine. See bench/README.md; bench/run.sh builds and runs it.
#include <keyutils.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "anchord/policy.hpp"
#include "bus.hpp"
#include "dbus_daemon.hpp"
#include "kernel.hpp"
#include "pki.hpp"
#include "process.hpp"
#include "report.hpp"
#include "stats.hpp"

namespace {

using namespace anchord;
using namespace anchord::bench;
namespace fs = std::filesystem;

// Beside anchord_bench in the build: the memory floor (idle_floor.cpp).
constexpr const char* kIdleFloor = "anchord_idle_floor";

constexpr const char* kUsage =
    "usage: anchord_bench --anchord PATH [--anchorctl PATH] [--out DIR] [--certs DIR]\n"
    "                     [--n N] [--reps R] [--batch B] [--queries Q] [--warmup W]\n"
    "                     [--policy FILE] [--keyctl PATH] [--evmctl PATH] [--skip ID,...]\n"
    "                     [--profile PHASE (--daemon-wrapper CMD | --attach CMD)]\n"
    "\n"
    "Runs every measurement of bench/README.md and writes results.md and\n"
    "results.json into --out (default: build-bench). IDs for --skip:\n"
    "add_key, anchord_enroll_batch, anchord_enroll_batch_full, anchorctl_enroll,\n"
    "keyctl_padd, evmctl_import, queries, startup.\n"
    "\n"
    "Profiling: the anchord instances of PHASE (anchord_enroll_batch,\n"
    "anchord_enroll_batch_full, anchorctl_enroll, queries, startup, startup_empty)\n"
    "run under\n"
    "--daemon-wrapper (a command that execs anchord in place: 'valgrind\n"
    "--tool=callgrind', 'strace -D -f -o FILE'), or get --attach started once\n"
    "they are ready and stopped with SIGINT before they stop\n"
    "('perf record -g -o FILE -p {pid}', 'strace -f -c -o FILE -p {pid}').\n"
    "Timings of a profiled phase are not comparable.\n";

struct Options {
    fs::path anchord;
    std::optional<fs::path> anchorctl;
    fs::path out = "build-bench";
    std::optional<fs::path> certs;
    std::optional<fs::path> policy;
    std::string keyctl = "keyctl";
    std::string evmctl = "evmctl";
    std::size_t n = 1000;
    std::size_t reps = 5;
    std::size_t batch = 100;
    std::size_t queries = 1000;
    std::size_t warmup = 200;  // certificates in the warm-up round
    std::set<std::string> skip;
    std::string profile;  // a phase id
    std::vector<std::string> wrapper;
    std::string attach;
};

std::size_t parse_count(const std::string& flag, const std::string& text, std::size_t min) {
    std::size_t used = 0;
    unsigned long long v = 0;
    try {
        v = std::stoull(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || v < min) {
        throw std::invalid_argument(flag + " wants a whole number of at least " +
                                    std::to_string(min) + ", not \"" + text + "\"");
    }
    return static_cast<std::size_t>(v);
}

Options parse_options(int argc, char** argv) {
    Options o;
    std::vector<std::string> args(argv + 1, argv + argc);
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        }
        if (i + 1 >= args.size()) throw std::invalid_argument("\"" + a + "\" wants a value");
        const std::string& v = args[++i];
        if (a == "--anchord")
            o.anchord = v;
        else if (a == "--anchorctl")
            o.anchorctl = fs::path(v);
        else if (a == "--out")
            o.out = v;
        else if (a == "--certs")
            o.certs = fs::path(v);
        else if (a == "--policy")
            o.policy = fs::path(v);
        else if (a == "--keyctl")
            o.keyctl = v;
        else if (a == "--evmctl")
            o.evmctl = v;
        else if (a == "--n")
            o.n = parse_count(a, v, 1);
        else if (a == "--reps")
            o.reps = parse_count(a, v, 1);
        else if (a == "--batch")
            o.batch = parse_count(a, v, 1);
        else if (a == "--queries")
            o.queries = parse_count(a, v, 1);
        else if (a == "--warmup")
            o.warmup = parse_count(a, v, 1);
        else if (a == "--profile")
            o.profile = v;
        else if (a == "--attach")
            o.attach = v;
        else if (a == "--daemon-wrapper") {
            std::istringstream words(v);
            for (std::string w; words >> w;) o.wrapper.push_back(w);
        } else if (a == "--skip") {
            std::istringstream ids(v);
            for (std::string id; std::getline(ids, id, ',');) o.skip.insert(id);
        } else {
            throw std::invalid_argument("unknown option \"" + a + "\" (see --help)");
        }
    }
    if ((!o.wrapper.empty() || !o.attach.empty()) == o.profile.empty())
        throw std::invalid_argument("--profile PHASE goes with --daemon-wrapper or --attach");
    if (o.anchord.empty()) throw std::invalid_argument("--anchord PATH is required (see --help)");
    if (!fs::exists(o.anchord))
        throw std::invalid_argument("no anchord binary at \"" + o.anchord.string() + "\"");
    if (o.anchorctl && !fs::exists(*o.anchorctl))
        throw std::invalid_argument("no anchorctl binary at \"" + o.anchorctl->string() + "\"");
    return o;
}

// The program's path when found on PATH (or given with a slash), else nullopt.
std::optional<std::string> find_program(const std::string& name) {
    if (name.find('/') != std::string::npos) {
        return ::access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
    }
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        std::string candidate = dir + "/" + name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
}

std::string first_line(const fs::path& file) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);
    return line;
}

Machine describe_machine() {
    Machine m;
    utsname u{};
    if (::uname(&u) == 0) m.kernel = u.release;
    std::ifstream cpuinfo("/proc/cpuinfo");
    for (std::string line; std::getline(cpuinfo, line);) {
        if (line.rfind("model name", 0) == 0) {
            if (m.cpu.empty()) m.cpu = line.substr(line.find(':') + 2);
            ++m.cpus;
        }
    }
    if (m.cpus == 0) m.cpus = std::thread::hardware_concurrency();
    m.load_before = first_line("/proc/loadavg");
    std::time_t now = std::time(nullptr);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    m.started_at = when;
    return m;
}

double micros(Clock::duration d) {
    return std::chrono::duration<double, std::micro>(d).count();
}
double millis(Clock::duration d) {
    return std::chrono::duration<double, std::milli>(d).count();
}

Series series(std::string id, std::string label, std::string skipped = "") {
    Series s;
    s.id = std::move(id);
    s.label = std::move(label);
    s.skipped = std::move(skipped);
    return s;
}

Latency latency(std::string id, std::string label) {
    Latency l;
    l.id = std::move(id);
    l.label = std::move(label);
    return l;
}

void expect_count(const std::string& what, std::size_t got, std::size_t want) {
    if (got != want) {
        throw std::runtime_error(what + " holds " + std::to_string(got) + " keys, not " +
                                 std::to_string(want) + ": a contender lost or skipped some");
    }
}

class Bench {
  public:
    explicit Bench(Options options) : o_(std::move(options)) {}

    Results run();

  private:
    DaemonSetup daemon_setup(const fs::path& state_dir, const std::string& phase) const {
        DaemonSetup setup{o_.anchord,       policy_,   work_ / "anchors",
                          work_ / "dropin", state_dir, logs_ / "anchord.log",
                          bus_->address(),  {}};
        if (phase == o_.profile) setup.wrapper = o_.wrapper;
        return setup;
    }
    // The --attach profiler, for the phase being profiled.
    std::unique_ptr<Attached> attach(const Daemon& daemon, const std::string& phase) const {
        if (o_.attach.empty() || phase != o_.profile) return nullptr;
        return std::make_unique<Attached>(o_.attach, daemon.pid(), logs_ / "profiler.log");
    }
    fs::path fresh_state_dir(const std::string& name) const {
        fs::path dir = work_ / name;
        fs::remove_all(dir);
        fs::create_directories(dir);
        return dir;
    }
    void say(const std::string& line) const { std::cerr << "anchord_bench: " << line << std::endl; }

    // Starts anchord and waits (bounded) until it owns its bus name: it
    // sends READY=1 once the keys are in place, before it joins the bus.
    // Returns the time from exec to the name's owner appearing.
    Clock::duration wait_serving(Daemon& daemon) const;

    void prepare();
    void enrollment();
    void queries();
    void startup_and_memory();

    // Enrollment contenders: microseconds per certificate for the first
    // `count` leaves, into fresh keyrings.
    struct PerCert {
        double wall_us = 0;
        double cpu_us = 0;
    };
    PerCert floor_add_key(std::size_t count);
    // brief: Enroll's "brief" option, an accepted certificate's answer
    // without the checks it passed (what anchorctl asks for).
    PerCert anchord_batch(std::size_t count, bool brief);
    PerCert anchorctl_per_file(std::size_t count);
    PerCert tool_per_file(std::size_t count, std::vector<std::string> argv, std::size_t file_arg,
                          std::size_t ring_arg, bool file_on_stdin);
    // CPU time of anchord and the bus daemon.
    Clock::duration server_cpu(const Daemon& daemon) const {
        return daemon.cpu() + process_cpu(bus_->pid());
    }

    Options o_;
    Results r_;
    CertSet certs_;
    fs::path work_;
    fs::path logs_;
    fs::path policy_;
    std::optional<std::string> evmctl_;
    std::unique_ptr<testing::PrivateBus> bus_;
    std::unique_ptr<Client> client_;
    std::vector<Bytes> bundles_;  // the leaves in Enroll batches
};

Clock::duration Bench::wait_serving(Daemon& daemon) const {
    constexpr auto kTimeout = std::chrono::seconds(120);
    auto deadline = Clock::now() + kTimeout;
    for (;;) {
        daemon.check_running();
        if (client_->name_owned()) return Clock::now() - daemon.started_at();
        if (Clock::now() > deadline) {
            throw std::runtime_error("anchord did not own io.github.anchord1 within " +
                                     std::to_string(kTimeout.count()) + " s of READY=1");
        }
        timespec ts{0, 1'000'000};  // 1 ms between two looks
        ::nanosleep(&ts, nullptr);
    }
}

void Bench::prepare() {
    fs::create_directories(o_.out);
    logs_ = fs::absolute(o_.out) / "logs";
    fs::remove_all(logs_);
    fs::create_directories(logs_);
    std::string templ = (fs::temp_directory_path() / "anchord-bench.XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    work_ = templ;
    fs::create_directories(work_ / "anchors");
    fs::create_directories(work_ / "dropin");

    fs::path certs_dir = o_.certs ? *o_.certs : work_ / "certs";
    say("certificates: " + std::to_string(o_.n) + " leaves in " + certs_dir.string());
    auto t0 = Clock::now();
    certs_ = load_or_generate(certs_dir, o_.n, std::max(1u, std::thread::hardware_concurrency()));
    say(std::string(certs_.reused ? "read back" : "generated") + " in " +
        std::to_string(static_cast<int>(millis(Clock::now() - t0))) + " ms");
    {
        std::ofstream root(work_ / "anchors" / "root.der", std::ios::binary);
        root.write(reinterpret_cast<const char*>(certs_.root.data()),
                   static_cast<std::streamsize>(certs_.root.size()));
    }
    if (o_.policy) {
        policy_ = fs::absolute(*o_.policy);
    } else {
        policy_ = work_ / "policy.json";
        std::ofstream out(policy_);
        out << default_policy_text();
    }
    for (std::size_t first = 0; first < o_.n; first += o_.batch)
        bundles_.push_back(pem_bundle(certs_, first, o_.batch));

    bus_ = std::make_unique<testing::PrivateBus>();
    client_ = std::make_unique<Client>(bus_->address());
    evmctl_ = find_program(o_.evmctl);

    r_.n = o_.n;
    r_.repetitions = o_.reps;
    r_.batch = o_.batch;
    r_.query_calls = o_.queries;
    r_.leaves_p256 = certs_.p256;
    r_.leaves_rsa2048 = certs_.rsa2048;
    r_.certificates_reused = certs_.reused;
}

Bench::PerCert Bench::floor_add_key(std::size_t count) {
    Sandbox sandbox(certs_);
    auto cpu0 = thread_cpu();
    auto t0 = Clock::now();
    add_keys(sandbox.ima(), certs_.leaves, count);
    auto elapsed = Clock::now() - t0;
    auto cpu = thread_cpu() - cpu0;
    expect_count("the add_key floor's ima", ring_serials(sandbox.ima()).size(), count);
    double c = static_cast<double>(count);
    return {micros(elapsed) / c, micros(cpu) / c};
}

Bench::PerCert Bench::anchord_batch(std::size_t count, bool brief) {
    const std::string phase = brief ? "anchord_enroll_batch" : "anchord_enroll_batch_full";
    Daemon daemon(daemon_setup(fresh_state_dir("state-enroll"), phase));
    wait_serving(daemon);
    if (r_.anchord_version.empty()) r_.anchord_version = client_->version();
    client_->enroll(certs_.intermediate, "secondary");
    std::size_t calls = (count + o_.batch - 1) / o_.batch;
    // A shorter last bundle when count is not a multiple of the batch.
    std::optional<Bytes> last;
    if (count % o_.batch != 0) last = pem_bundle(certs_, (calls - 1) * o_.batch, count % o_.batch);
    auto profiler = attach(daemon, phase);
    std::size_t enrolled = 0;
    auto cpu0 = server_cpu(daemon) + thread_cpu();
    auto t0 = Clock::now();
    for (std::size_t i = 0; i < calls; ++i) {
        enrolled += client_->enroll(i + 1 == calls && last ? *last : bundles_[i], "ima", brief);
    }
    auto elapsed = Clock::now() - t0;
    auto cpu = server_cpu(daemon) + thread_cpu() - cpu0;
    if (profiler) profiler->finish();
    expect_count("anchord's answer to Enroll", enrolled, count);
    expect_count("anchord's ima (Keys)", client_->read_keys("ima"), count);
    daemon.stop();
    double c = static_cast<double>(count);
    return {micros(elapsed) / c, micros(cpu) / c};
}

Bench::PerCert Bench::anchorctl_per_file(std::size_t count) {
    Daemon daemon(daemon_setup(fresh_state_dir("state-enroll"), "anchorctl_enroll"));
    wait_serving(daemon);
    client_->enroll(certs_.intermediate, "secondary");
    Command cmd({o_.anchorctl->string(), "--bus-address", bus_->address(), "enroll", "FILE",
                 "--keyring", "ima"},
                logs_ / "anchorctl.log");
    auto profiler = attach(daemon, "anchorctl_enroll");
    auto cpu0 = server_cpu(daemon);
    auto t0 = Clock::now();
    for (std::size_t i = 0; i < count; ++i) cmd.run_with(4, certs_.leaf_files[i].string());
    auto elapsed = Clock::now() - t0;
    auto cpu = server_cpu(daemon) - cpu0 + cmd.cpu();
    if (profiler) profiler->finish();
    expect_count("anchord's ima (Keys) after anchorctl", client_->read_keys("ima"), count);
    daemon.stop();
    double c = static_cast<double>(count);
    return {micros(elapsed) / c, micros(cpu) / c};
}

Bench::PerCert Bench::tool_per_file(std::size_t count, std::vector<std::string> argv,
                                    std::size_t file_arg, std::size_t ring_arg,
                                    bool file_on_stdin) {
    Sandbox sandbox(certs_);
    argv.at(ring_arg) = std::to_string(sandbox.ima().value);
    fs::path log = logs_ / (fs::path(argv[0]).filename().string() + ".log");
    Command cmd(std::move(argv), log);
    auto t0 = Clock::now();
    for (std::size_t i = 0; i < count; ++i) {
        const fs::path& file = certs_.leaf_files[i];
        if (file_on_stdin) {
            cmd.run(file);
        } else {
            cmd.run_with(file_arg, file.string());
        }
    }
    auto elapsed = Clock::now() - t0;
    expect_count(cmd.text() + "'s ima", ring_serials(sandbox.ima()).size(), count);
    double c = static_cast<double>(count);
    return {micros(elapsed) / c, micros(cmd.cpu()) / c};
}

void Bench::enrollment() {
    struct Contender {
        Series series;
        std::function<PerCert(std::size_t)> run;
    };
    std::vector<Contender> contenders;
    contenders.push_back({series("add_key", "`add_key` loop in process, bytes in memory (floor)"),
                          [this](std::size_t c) { return floor_add_key(c); }});
    const std::string per_call =
        "anchord: one `Enroll` call per " + std::to_string(o_.batch) + " certificates over D-Bus";
    contenders.push_back(
        {series("anchord_enroll_batch", per_call + ", \"brief\" answers (as anchorctl asks)"),
         [this](std::size_t c) { return anchord_batch(c, true); }});
    contenders.push_back(
        {series("anchord_enroll_batch_full", per_call + ", full answers (every check)"),
         [this](std::size_t c) { return anchord_batch(c, false); }});
    contenders.push_back(
        {series("anchorctl_enroll",
                "anchord: one `anchorctl enroll FILE --keyring ima` per certificate",
                o_.anchorctl ? "" : "anchorctl not built"),
         [this](std::size_t c) { return anchorctl_per_file(c); }});
    contenders.push_back(
        {series("keyctl_padd", "`keyctl padd asymmetric '' RING < FILE` per certificate",
                find_program(o_.keyctl) ? "" : o_.keyctl + " not installed"),
         [this](std::size_t c) {
             return tool_per_file(c, {o_.keyctl, "padd", "asymmetric", "", "RING"}, 0, 4, true);
         }});
    contenders.push_back(
        {series("evmctl_import", "`evmctl import FILE RING` per certificate",
                evmctl_ ? "" : o_.evmctl + " not installed (ima-evm-utils)"),
         [this](std::size_t c) {
             return tool_per_file(c, {*evmctl_, "import", "FILE", "RING"}, 2, 3, false);
         }});
    for (auto& c : contenders) {
        if (o_.skip.count(c.series.id)) c.series.skipped = "skipped (--skip)";
    }

    // Round-robin, so that a change in the machine's load touches every
    // contender alike; round 0 is the warm-up.
    for (std::size_t round = 0; round <= o_.reps; ++round) {
        std::size_t count = round == 0 ? std::min(o_.warmup, o_.n) : o_.n;
        for (auto& c : contenders) {
            if (!c.series.skipped.empty()) continue;
            PerCert us = c.run(count);
            say("enrollment " +
                (round == 0 ? std::string("warm-up") : "run " + std::to_string(round)) + ": " +
                c.series.id + ": " + std::to_string(us.wall_us) + " us/cert (CPU " +
                std::to_string(us.cpu_us) + ")");
            if (round > 0) {
                c.series.runs.push_back(us.wall_us);
                c.series.cpu_runs.push_back(us.cpu_us);
            }
        }
    }
    for (auto& c : contenders) r_.enrollment.push_back(std::move(c.series));
}

void Bench::queries() {
    r_.keys_property = latency("keys_property", "anchord: `Keys` property of ima over D-Bus");
    r_.managed_objects = latency("get_managed_objects",
                                 "anchord: `GetManagedObjects` (all keyrings, all properties)");
    r_.proc_keys = latency("proc_keys",
                           "read `/proc/keys` whole (anchord's keys and the floor's), in process "
                           "(floor)");
    r_.keyutils_list = latency(
        "keyutils_list", "list ima with keyutils in process: read + describe each key (floor)");
    if (o_.skip.count("queries")) {
        for (auto* l : {&r_.keys_property, &r_.managed_objects, &r_.proc_keys, &r_.keyutils_list})
            l->skipped = "skipped (--skip)";
        return;
    }
    const std::size_t warm = std::min<std::size_t>(50, o_.queries);
    struct Contender {
        Latency& latency;
        std::function<std::size_t()> call;
    };
    // In rounds, each against an anchord started anew on the same state:
    // all the calls of each contender in turn, once per round, rather than
    // all of one contender's calls before the next. A moment of load then
    // falls on one round of one contender, and how one anchord's threads
    // happened to be placed on the CPUs on one round, and the median over
    // the rounds leaves both out; within a round each runs warm, as a
    // caller asking again and again would.
    auto measure_round = [&](const std::vector<Contender>& contenders) {
        for (const auto& c : contenders) {
            for (std::size_t i = 0; i < warm; ++i) c.latency.result_size = c.call();
        }
        for (const auto& c : contenders) {
            std::vector<double> samples;
            samples.reserve(o_.queries);
            for (std::size_t i = 0; i < o_.queries; ++i) {
                auto t0 = Clock::now();
                c.latency.result_size = c.call();
                samples.push_back(micros(Clock::now() - t0));
            }
            c.latency.runs_us.push_back(std::move(samples));
        }
    };

    // The state this daemon leaves behind is the rounds' and the start-up
    // phase's.
    const fs::path full_state = fresh_state_dir("state-full");
    {
        Daemon daemon(daemon_setup(full_state, "enroll_for_queries"));
        wait_serving(daemon);
        if (r_.anchord_version.empty()) r_.anchord_version = client_->version();
        client_->enroll(certs_.intermediate, "secondary");
        for (const auto& bundle : bundles_) client_->enroll(bundle, "ima");
        expect_count("anchord's ima (Keys)", client_->read_keys("ima"), o_.n);
        for (std::size_t i = 0; i < warm; ++i) {
            client_->read_keys("ima");
            client_->managed_objects();
        }
        // Idle: anchord gives a change's free memory back once the changes
        // pause (half a second), not while they keep coming.
        std::this_thread::sleep_for(std::chrono::seconds(1));
        r_.rss_after_queries_kib = static_cast<double>(daemon.rss_kib());
        daemon.stop();
    }
    // The floors' own keyrings: anchord's are not the benchmark's to read.
    Sandbox sandbox(certs_);
    add_keys(sandbox.ima(), certs_.leaves, o_.n);
    std::string buffer;
    for (std::size_t round = 0; round < o_.reps; ++round) {
        Daemon daemon(daemon_setup(full_state, "queries"));
        wait_serving(daemon);
        expect_count("anchord's ima (Keys)", client_->read_keys("ima"), o_.n);
        auto profiler = round == 0 ? attach(daemon, "queries") : nullptr;
        measure_round({{r_.keys_property, [&] { return client_->read_keys("ima"); }},
                       {r_.managed_objects, [&] { return client_->managed_objects(); }},
                       {r_.proc_keys, [&] { return read_proc_keys(buffer); }},
                       {r_.keyutils_list, [&] { return list_and_describe(sandbox.ima()); }}});
        if (profiler) profiler->finish();
        daemon.stop();
        say("queries round " + std::to_string(round + 1) + ": Keys p50 " +
            std::to_string(bench::percentile(r_.keys_property.runs_us.back(), 50)) + " us, p99 " +
            std::to_string(bench::percentile(r_.keys_property.runs_us.back(), 99)) + " us");
    }
    expect_count("the floor's ima", r_.keyutils_list.result_size, o_.n);
    for (const auto* l :
         {&r_.keys_property, &r_.managed_objects, &r_.proc_keys, &r_.keyutils_list}) {
        say("queries: " + l->id + ": p50 " + std::to_string(l->percentile(50)) + " us, p99 " +
            std::to_string(l->percentile(99)) + " us (medians over the rounds)");
    }
}

void Bench::startup_and_memory() {
    r_.startup_anchord = series("anchord", "anchord with " + std::to_string(o_.n) +
                                               " certificates in the state, empty keyrings");
    r_.startup_serving =
        series("anchord_serving", "anchord with " + std::to_string(o_.n) +
                                      " certificates: exec to its bus name owned (not READY=1)");
    r_.startup_anchord_empty = series("anchord_empty", "anchord with an empty state");
    r_.startup_floor =
        series("add_key", "`add_key` of the same " + std::to_string(o_.n + 1) +
                              " DER blobs (intermediate + leaves) in process (floor)");
    r_.rss_idle_empty = series("rss_idle_empty", "anchord VmRSS idle after start, empty state");
    r_.rss_idle_full = series("rss_idle_full", "anchord VmRSS idle after start, " +
                                                   std::to_string(o_.n) + " certificates");
    r_.peak_rss_full = series("peak_rss_full", "anchord VmHWM (peak) at that point, " +
                                                   std::to_string(o_.n) + " certificates");
    r_.anon_rss_full = series("anon_rss_full", "of which anonymous (RssAnon: heap, stacks), " +
                                                   std::to_string(o_.n) + " certificates");
    r_.pss_full = series("pss_full", "anchord Pss (shared pages split among their users), " +
                                         std::to_string(o_.n) + " certificates");
    const fs::path floor_binary = fs::read_symlink("/proc/self/exe").parent_path() / kIdleFloor;
    r_.rss_floor = series("rss_floor",
                          "VmRSS of a program linking anchord's libraries, connected to the bus, "
                          "its anchor read with OpenSSL, idle (floor)",
                          fs::exists(floor_binary) ? "" : floor_binary.string() + " not built");
    std::string why;
    if (o_.skip.count("startup")) why = "skipped (--skip)";
    if (o_.skip.count("queries")) why = "needs the state the queries phase makes";
    if (!why.empty()) {
        for (auto* s : {&r_.startup_anchord, &r_.startup_serving, &r_.startup_anchord_empty,
                        &r_.startup_floor, &r_.rss_idle_empty, &r_.rss_idle_full, &r_.peak_rss_full,
                        &r_.anon_rss_full, &r_.pss_full, &r_.rss_floor})
            s->skipped = why;
        return;
    }
    fs::path full_state = work_ / "state-full";
    for (std::size_t round = 0; round <= o_.reps; ++round) {
        std::string name = round == 0 ? "warm-up" : "run " + std::to_string(round);
        {
            Sandbox sandbox(certs_, false);
            auto t0 = Clock::now();
            add_key(sandbox.secondary(), certs_.intermediate);
            add_keys(sandbox.ima(), certs_.leaves, o_.n);
            double ms = millis(Clock::now() - t0);
            expect_count("the start-up floor's ima", ring_serials(sandbox.ima()).size(), o_.n);
            say("start-up " + name + ": add_key floor " + std::to_string(ms) + " ms");
            if (round > 0) r_.startup_floor.runs.push_back(ms);
        }
        {
            Daemon daemon(daemon_setup(full_state, "startup"));
            double ms = millis(daemon.startup());
            double serving = millis(wait_serving(daemon));
            // One round trip first: idle, but past its first request.
            client_->version();
            double rss = static_cast<double>(daemon.rss_kib());
            double peak = static_cast<double>(daemon.peak_rss_kib());
            double anon = static_cast<double>(daemon.anon_rss_kib());
            double pss = static_cast<double>(daemon.pss_kib());
            attach(daemon, "startup");  // a snapshot of the idle daemon (smaps, say)
            expect_count("anchord's ima after the boot re-apply (Keys)", client_->read_keys("ima"),
                         o_.n);
            daemon.stop();
            say("start-up " + name + ": anchord " + std::to_string(ms) + " ms to READY=1, " +
                std::to_string(serving) + " ms to its bus name, VmRSS " +
                std::to_string(static_cast<int>(rss)) + " KiB");
            if (round > 0) {
                r_.startup_anchord.runs.push_back(ms);
                r_.startup_serving.runs.push_back(serving);
                r_.rss_idle_full.runs.push_back(rss);
                r_.peak_rss_full.runs.push_back(peak);
                r_.anon_rss_full.runs.push_back(anon);
                r_.pss_full.runs.push_back(pss);
            }
        }
        {
            Daemon daemon(daemon_setup(fresh_state_dir("state-empty"), "startup_empty"));
            double ms = millis(daemon.startup());
            wait_serving(daemon);
            client_->version();
            double rss = static_cast<double>(daemon.rss_kib());
            attach(daemon, "startup_empty");
            daemon.stop();
            say("start-up " + name + ": anchord, empty state, " + std::to_string(ms) +
                " ms, VmRSS " + std::to_string(static_cast<int>(rss)) + " KiB");
            if (round > 0) {
                r_.startup_anchord_empty.runs.push_back(ms);
                r_.rss_idle_empty.runs.push_back(rss);
            }
        }
        if (r_.rss_floor.skipped.empty()) {
            DaemonSetup setup = daemon_setup(fresh_state_dir("state-floor"), "idle_floor");
            setup.binary = floor_binary;
            Daemon floor(setup);
            double rss = static_cast<double>(floor.rss_kib());
            floor.stop();
            say("start-up " + name + ": the idle floor, VmRSS " +
                std::to_string(static_cast<int>(rss)) + " KiB");
            if (round > 0) r_.rss_floor.runs.push_back(rss);
        }
    }
}

Results Bench::run() {
    auto t0 = Clock::now();
    r_.machine = describe_machine();
    prepare();
    try {
        enrollment();
        queries();
        startup_and_memory();
    } catch (...) {
        std::error_code ec;
        fs::remove_all(work_, ec);
        throw;
    }
    r_.machine.load_after = first_line("/proc/loadavg");
    r_.machine.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    client_.reset();
    bus_.reset();
    std::error_code ec;
    fs::remove_all(work_, ec);
    return r_;
}

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + file.string());
}

}  // namespace

int main(int argc, char** argv) {
    try {
        Options options = parse_options(argc, argv);
        // Every keyring this run makes lives under a session keyring of its
        // own; anchord's instances each join a further one of their own.
        if (keyctl_join_session_keyring(nullptr) < 0) {
            throw std::runtime_error(std::string("keyctl_join_session_keyring: ") +
                                     std::strerror(errno));
        }
        fs::path out = options.out;
        Results results = Bench(std::move(options)).run();
        std::string md = to_markdown(results);
        write_text(out / "results.md", md);
        write_text(out / "results.json", to_json(results));
        std::cout << md << "\nWritten: " << (out / "results.md").string() << ", "
                  << (out / "results.json").string() << std::endl;
        return 0;
    } catch (const std::invalid_argument& e) {
        std::cerr << "anchord_bench: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "anchord_bench: " << e.what() << "\n";
        return 1;
    }
}
