#include "report.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "stats.hpp"

namespace anchord::bench {
namespace {

using nlohmann::json;

constexpr double kBatchRatioLimit = 1.3;
constexpr double kKeysP99LimitUs = 5000;
constexpr double kStartupRatioLimit = 1.3;
constexpr double kStartupSlackMs = 50;
constexpr double kRssLimitKib = 8 * 1024;

std::string fixed(double v, int digits = 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string mib(double kib) {
    return fixed(kib / 1024.0, 2) + " MiB";
}

const Series* find(const std::vector<Series>& all, const std::string& id) {
    for (const auto& s : all) {
        if (s.id == id) return &s;
    }
    return nullptr;
}

std::string pass_text(const std::optional<bool>& pass) {
    if (!pass) return "not measured";
    return *pass ? "**pass**" : "**miss**";
}

json series_json(const Series& s, const std::string& unit) {
    json j{{"label", s.label}, {"unit", unit}};
    if (!s.measured()) {
        j["skipped"] = s.skipped.empty() ? "no run" : s.skipped;
        return j;
    }
    j["median"] = s.median();
    j["min"] = minimum(s.runs);
    j["max"] = maximum(s.runs);
    j["runs"] = s.runs;
    if (!s.cpu_runs.empty()) {
        j["cpu_median"] = median(s.cpu_runs);
        j["cpu_runs"] = s.cpu_runs;
    }
    return j;
}

json latency_json(const Latency& l) {
    json j{{"label", l.label}, {"unit", "us"}};
    if (!l.measured()) {
        j["skipped"] = l.skipped.empty() ? "no run" : l.skipped;
        return j;
    }
    const auto all = l.all_samples();
    double sum = 0;
    for (double v : all) sum += v;
    j["calls"] = all.size();
    j["runs"] = l.runs_us.size();
    j["p50"] = l.percentile(50);
    j["p90"] = l.percentile(90);
    j["p99"] = l.percentile(99);
    json p99_runs = json::array();
    for (const auto& run : l.runs_us) p99_runs.push_back(bench::percentile(run, 99));
    j["p99_of_each_run"] = p99_runs;
    j["p99_of_all_calls"] = bench::percentile(all, 99);
    j["max"] = maximum(all);
    j["mean"] = sum / static_cast<double>(all.size());
    j["result_size"] = l.result_size;
    return j;
}

}  // namespace

double Series::median() const {
    return bench::median(runs);
}

double Latency::percentile(double p) const {
    std::vector<double> each;
    for (const auto& run : runs_us) each.push_back(bench::percentile(run, p));
    return bench::median(each);
}

std::vector<double> Latency::all_samples() const {
    std::vector<double> all;
    for (const auto& run : runs_us) all.insert(all.end(), run.begin(), run.end());
    return all;
}

std::vector<Target> Results::targets() const {
    std::vector<Target> out;
    const Series* floor = find(enrollment, "add_key");
    const Series* batch = find(enrollment, "anchord_enroll_batch");
    const Series* per_file = find(enrollment, "anchorctl_enroll");
    const Series* padd = find(enrollment, "keyctl_padd");

    Target t{"Batch enrollment (Enroll, " + std::to_string(this->batch) + " per call, \"brief\")",
             "<= " + fixed(kBatchRatioLimit, 1) + "x the add_key floor", "", std::nullopt};
    if (floor && batch && floor->measured() && batch->measured()) {
        double ratio = batch->median() / floor->median();
        t.value = fixed(ratio, 2) + "x";
        t.pass = ratio <= kBatchRatioLimit;
    }
    out.push_back(t);

    t = {"Per-file anchorctl enroll", "faster than the keyctl padd loop", "", std::nullopt};
    if (per_file && padd && per_file->measured() && padd->measured()) {
        t.value = fixed(per_file->median()) + " vs " + fixed(padd->median()) + " us/cert";
        t.pass = per_file->median() < padd->median();
    }
    out.push_back(t);

    t = {"Keys property read at " + std::to_string(n) + " keys", "p99 <= 5 ms", "", std::nullopt};
    if (keys_property.measured()) {
        double p99 = keys_property.percentile(99);
        t.value = fixed(p99 / 1000.0, 2) + " ms";
        t.pass = p99 <= kKeysP99LimitUs;
    }
    out.push_back(t);

    t = {"Start-up with " + std::to_string(n) + " certificates",
         "<= " + fixed(kStartupRatioLimit, 1) + "x floor + " + fixed(kStartupSlackMs, 0) + " ms",
         "", std::nullopt};
    if (startup_anchord.measured() && startup_floor.measured()) {
        double limit = kStartupRatioLimit * startup_floor.median() + kStartupSlackMs;
        t.value = fixed(startup_anchord.median()) + " ms (limit " + fixed(limit) + " ms)";
        t.pass = startup_anchord.median() <= limit;
    }
    out.push_back(t);

    for (const auto* s : {&rss_idle_empty, &rss_idle_full}) {
        t = {s->label, "<= 8 MiB", "", std::nullopt};
        if (s->measured()) {
            t.value = mib(s->median());
            // The floor says how much of it any program on these libraries has.
            if (rss_floor.measured())
                t.value += " (the idle floor: " + mib(rss_floor.median()) + ")";
            t.pass = s->median() <= kRssLimitKib;
        }
        out.push_back(t);
    }
    return out;
}

std::string to_markdown(const Results& r) {
    std::ostringstream md;
    auto targets = r.targets();
    md << "## anchord benchmark\n\n"
       << "- Kernel " << r.machine.kernel << "; CPU " << r.machine.cpu << " (" << r.machine.cpus
       << " CPUs); load average " << r.machine.load_before << " at start, " << r.machine.load_after
       << " at end\n"
       << "- N = " << r.n << " leaf certificates (" << r.leaves_p256 << " P-256, "
       << r.leaves_rsa2048 << " RSA-2048) issued by an RSA-4096 intermediate in secondary\n"
       << "- " << r.repetitions << " timed runs per contender after one warm-up, fresh keyrings "
       << "for each; the median is shown\n"
       << "- anchord " << r.anchord_version << "; run started " << r.machine.started_at << ", took "
       << fixed(r.machine.seconds, 0) << " s\n\n";

    md << "| Measure | Contender | Figure | Spread (runs; p99 for latencies) | CPU | vs floor | "
          "CPU vs floor | Target | Result |\n"
       << "|---|---|--:|--:|--:|--:|--:|---|---|\n";

    const Series* floor = find(r.enrollment, "add_key");
    bool first = true;
    for (const auto& s : r.enrollment) {
        md << "| " << (first ? "1. Enrollment, us per certificate" : "") << " | " << s.label
           << " | ";
        first = false;
        if (!s.measured()) {
            md << "not measured: " << s.skipped << " | | | | | | |\n";
            continue;
        }
        md << fixed(s.median()) << " | " << fixed(minimum(s.runs)) << "-" << fixed(maximum(s.runs))
           << " | " << (s.cpu_runs.empty() ? "" : fixed(median(s.cpu_runs))) << " | ";
        if (floor && floor->measured()) md << fixed(s.median() / floor->median(), 2) << "x";
        md << " | ";
        if (floor && floor->measured() && !floor->cpu_runs.empty() && !s.cpu_runs.empty())
            md << fixed(median(s.cpu_runs) / median(floor->cpu_runs), 2) << "x";
        md << " | ";
        if (s.id == "anchord_enroll_batch") {
            md << targets[0].rule << " | " << pass_text(targets[0].pass);
        } else if (s.id == "anchorctl_enroll") {
            md << targets[1].rule << " | " << pass_text(targets[1].pass);
        } else {
            md << " | ";
        }
        md << " |\n";
    }

    first = true;
    double list_p50 = r.keyutils_list.measured() ? r.keyutils_list.percentile(50) : 0;
    for (const auto* l : {&r.keys_property, &r.managed_objects, &r.proc_keys, &r.keyutils_list}) {
        md << "| " << (first ? "2. Queries at N keys, latency" : "") << " | " << l->label << " | ";
        first = false;
        if (!l->measured()) {
            md << "not measured: " << l->skipped << " | | | | | | |\n";
            continue;
        }
        double p50 = l->percentile(50);
        md << "p50 " << fixed(p50) << " us | p99 " << fixed(l->percentile(99)) << " us | | ";
        if (list_p50 > 0) md << fixed(p50 / list_p50, 2) << "x";
        md << " | | ";
        if (l == &r.keys_property) {
            md << targets[2].rule << " | " << pass_text(targets[2].pass);
        } else {
            md << " | ";
        }
        md << " |\n";
    }

    auto row = [&](const std::string& measure, const Series& s, const std::string& unit,
                   double scale, const Series* base, const Target* target) {
        md << "| " << measure << " | " << s.label << " | ";
        if (!s.measured()) {
            md << "not measured: " << s.skipped << " | | | | | | |\n";
            return;
        }
        md << fixed(s.median() / scale, unit == "MiB" ? 2 : 1) << " " << unit << " | "
           << fixed(minimum(s.runs) / scale, unit == "MiB" ? 2 : 1) << "-"
           << fixed(maximum(s.runs) / scale, unit == "MiB" ? 2 : 1) << " | | ";
        if (base && base->measured()) md << fixed(s.median() / base->median(), 2) << "x";
        md << " | | ";
        if (target) {
            md << target->rule << " | " << pass_text(target->pass);
        } else {
            md << " | ";
        }
        md << " |\n";
    };
    row("3. Start-up, exec to READY=1", r.startup_anchord, "ms", 1, &r.startup_floor, &targets[3]);
    row("", r.startup_serving, "ms", 1, &r.startup_floor, nullptr);
    row("", r.startup_anchord_empty, "ms", 1, &r.startup_floor, nullptr);
    row("", r.startup_floor, "ms", 1, &r.startup_floor, nullptr);
    row("4. Memory, resident set", r.rss_idle_empty, "MiB", 1024, &r.rss_floor, &targets[4]);
    row("", r.rss_idle_full, "MiB", 1024, &r.rss_floor, &targets[5]);
    row("", r.peak_rss_full, "MiB", 1024, nullptr, nullptr);
    row("", r.anon_rss_full, "MiB", 1024, nullptr, nullptr);
    row("", r.pss_full, "MiB", 1024, nullptr, nullptr);
    row("", r.rss_floor, "MiB", 1024, &r.rss_floor, nullptr);
    if (r.rss_after_queries_kib) {
        md << "| | anchord VmRSS idle (1 s) after " << r.n << " enrollments and the queries | "
           << mib(*r.rss_after_queries_kib) << " | | | | | | |\n";
    }

    std::size_t met = 0, measured = 0;
    for (const auto& t : targets) {
        if (t.pass) {
            ++measured;
            met += *t.pass ? 1 : 0;
        }
    }
    md << "\nTargets met: " << met << " of " << measured << " measured (" << targets.size()
       << " in all).\n\n";
    for (const auto& t : targets) {
        md << "- " << t.what << ": " << t.rule << " -> " << (t.value.empty() ? "-" : t.value)
           << ": " << pass_text(t.pass) << "\n";
    }
    return md.str();
}

std::string to_json(const Results& r) {
    json j;
    j["machine"] = {{"kernel", r.machine.kernel},
                    {"cpu", r.machine.cpu},
                    {"cpus", r.machine.cpus},
                    {"load_before", r.machine.load_before},
                    {"load_after", r.machine.load_after},
                    {"started_at", r.machine.started_at},
                    {"seconds", r.machine.seconds}};
    j["anchord_version"] = r.anchord_version;
    j["n"] = r.n;
    j["repetitions"] = r.repetitions;
    j["batch"] = r.batch;
    j["query_calls"] = r.query_calls;
    j["certificates"] = {{"p256", r.leaves_p256},
                         {"rsa2048", r.leaves_rsa2048},
                         {"intermediate", "rsa-4096"},
                         {"root", "rsa-4096"},
                         {"reused_from_cache", r.certificates_reused}};

    json enrollment = json::object();
    const Series* floor = find(r.enrollment, "add_key");
    for (const auto& s : r.enrollment) {
        auto e = series_json(s, "us_per_certificate");
        if (s.measured() && floor && floor->measured()) {
            e["ratio_to_floor"] = s.median() / floor->median();
            if (!s.cpu_runs.empty() && !floor->cpu_runs.empty())
                e["cpu_ratio_to_floor"] = median(s.cpu_runs) / median(floor->cpu_runs);
        }
        enrollment[s.id] = e;
    }
    j["enrollment"] = enrollment;

    json queries = json::object();
    for (const auto* l : {&r.keys_property, &r.managed_objects, &r.proc_keys, &r.keyutils_list})
        queries[l->id] = latency_json(*l);
    j["queries"] = queries;

    json startup{{"anchord", series_json(r.startup_anchord, "ms")},
                 {"anchord_until_bus_name", series_json(r.startup_serving, "ms")},
                 {"anchord_empty_state", series_json(r.startup_anchord_empty, "ms")},
                 {"add_key_floor", series_json(r.startup_floor, "ms")}};
    if (r.startup_anchord.measured() && r.startup_floor.measured())
        startup["ratio_to_floor"] = r.startup_anchord.median() / r.startup_floor.median();
    j["startup"] = startup;

    json memory{{"idle_rss_empty_state", series_json(r.rss_idle_empty, "KiB")},
                {"idle_rss_full_state", series_json(r.rss_idle_full, "KiB")},
                {"peak_rss_full_state", series_json(r.peak_rss_full, "KiB")},
                {"anon_rss_full_state", series_json(r.anon_rss_full, "KiB")},
                {"pss_full_state", series_json(r.pss_full, "KiB")},
                {"idle_rss_floor", series_json(r.rss_floor, "KiB")}};
    if (r.rss_after_queries_kib)
        memory["rss_after_enrollment_and_queries_kib"] = *r.rss_after_queries_kib;
    j["memory"] = memory;

    json targets = json::array();
    for (const auto& t : r.targets()) {
        json e{{"what", t.what}, {"rule", t.rule}, {"value", t.value}};
        e["pass"] = t.pass ? json(*t.pass) : json(nullptr);
        targets.push_back(e);
    }
    j["targets"] = targets;
    return j.dump(2) + "\n";
}

}  // namespace anchord::bench
