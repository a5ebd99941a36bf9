// anchord under load: many callers at once, each with its own bus
// connection in its own process, and reads while a long enrollment runs.
// Nothing here asserts a duration: the figures (calls per second, latency
// percentiles) are printed for a person to read; the assertions are about
// outcomes and ordering.
#include <systemd/sd-bus.h>

#include <algorithm>
#include <cinttypes>
#include <iostream>
#include <map>
#include <random>

#include "anchord_harness.hpp"
#include "state/state_store.hpp"

namespace anchord::testing {
namespace {

using Clock = std::chrono::steady_clock;
using Micros = std::chrono::microseconds;

constexpr int kClients = 32;
constexpr int kCallsPerClient = 500;
constexpr std::size_t kCertificatesPerClient = 6;
constexpr std::size_t kBigBundle = 1000;

// The kinds of call a client makes, and the share of each in percent.
enum class Kind { Property, Keys, Objects, Verify, Enroll, Remove };
// Changes are serialised in anchord (one lock, a state file saved with
// fsync) and cost some 50 ms each in a debug build, so they are the
// smaller share: the run stays within minutes under the sanitizers too.
constexpr std::pair<Kind, int> kMix[] = {{Kind::Property, 35}, {Kind::Keys, 12},
                                         {Kind::Objects, 12},  {Kind::Verify, 25},
                                         {Kind::Enroll, 8},    {Kind::Remove, 8}};

std::string name_of(Kind k) {
    switch (k) {
        case Kind::Property:
            return "property";
        case Kind::Keys:
            return "keys";
        case Kind::Objects:
            return "objects";
        case Kind::Verify:
            return "verify";
        case Kind::Enroll:
            return "enroll";
        case Kind::Remove:
            return "remove";
    }
    return "?";
}

std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    return text.substr(0, 300);
}

// p in [0, 1] of sorted values.
std::int64_t percentile(const std::vector<std::int64_t>& sorted, double p) {
    if (sorted.empty()) return 0;
    auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(i, sorted.size() - 1)];
}

std::string ms(std::int64_t usec) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f ms", static_cast<double>(usec) / 1000.0);
    return buf;
}

using ManagedObjects =
    std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>>;

// One client: its own connection, a fixed random mix of calls, its own set
// of certificates. It reports on its pipe, one line each:
//   "lat <kind> <microseconds>"      every call
//   "err <kind> <what> <detail>"     every unexpected outcome
//   "left <fingerprint>"             what it leaves enrolled at the end
//   "calls <n>"                      how many calls it made
class Client {
  public:
    Client(int index, const std::vector<TestCert>& certs, std::string address)
        : certs_(certs), address_(std::move(address)), rng_(1000u + static_cast<unsigned>(index)) {
        for (const auto& c : certs_) fps_.push_back(Fingerprint::of_der(c.der).to_string());
        enrolled_.assign(certs_.size(), false);
    }

    int run(int out) {
        bus_ = sdbus::createSessionBusConnectionWithAddress(address_);
        root_ = sdbus::createProxy(*bus_, kBusName, kManagerPath);
        ima_ = sdbus::createProxy(*bus_, kBusName, std::string(kKeyringPathPrefix) + "ima");
        int calls = 0;
        for (; calls < kCallsPerClient; ++calls) {
            Kind kind = pick();
            auto start = Clock::now();
            try {
                call(kind);
            } catch (const sdbus::Error& e) {
                error(kind, e.getName(), e.getMessage());
            } catch (const std::exception& e) {
                error(kind, "exception", e.what());
            }
            auto took = std::chrono::duration_cast<Micros>(Clock::now() - start).count();
            report_ += "lat " + name_of(kind) + " " + std::to_string(took) + "\n";
            // Keep the pipe moving: the parent reads all clients at once.
            if (report_.size() > 16384) flush(out);
        }
        for (std::size_t i = 0; i < certs_.size(); ++i) {
            if (enrolled_[i]) report_ += "left " + fps_[i] + "\n";
        }
        report_ += "calls " + std::to_string(calls) + "\n";
        flush(out);
        return 0;
    }

  private:
    Kind pick() {
        int roll = static_cast<int>(rng_() % 100);
        Kind kind = Kind::Property;
        for (auto [k, share] : kMix) {
            if (roll < share) {
                kind = k;
                break;
            }
            roll -= share;
        }
        // A change that cannot be made becomes the other one.
        const auto held = std::count(enrolled_.begin(), enrolled_.end(), true);
        if (kind == Kind::Remove && held == 0) kind = Kind::Enroll;
        if (kind == Kind::Enroll && held == static_cast<long>(certs_.size())) kind = Kind::Remove;
        return kind;
    }

    std::vector<std::size_t> indices(bool enrolled) const {
        std::vector<std::size_t> out;
        for (std::size_t i = 0; i < certs_.size(); ++i) {
            if (enrolled_[i] == enrolled) out.push_back(i);
        }
        return out;
    }

    void call(Kind kind) {
        switch (kind) {
            case Kind::Property:
                read_property();
                break;
            case Kind::Keys:
                read_keys();
                break;
            case Kind::Objects: {
                ManagedObjects objects;
                root_->callMethod("GetManagedObjects")
                    .onInterface("org.freedesktop.DBus.ObjectManager")
                    .storeResultsTo(objects);
                if (objects.size() != kAllLogicalKeyrings.size())
                    error(kind, "objects", std::to_string(objects.size()) + " objects");
                break;
            }
            case Kind::Verify: {
                auto i = rng_() % certs_.size();
                std::vector<BusResult> results;
                root_->callMethod("Verify")
                    .onInterface(kManagerInterface)
                    .withArguments(certs_[i].der, std::string("ima"))
                    .storeResultsTo(results);
                if (results.size() != 1 || fingerprint_of(results[0]) != fps_[i] ||
                    !accepted_of(results[0])) {
                    error(kind, "refused", fps_[i]);
                }
                break;
            }
            case Kind::Enroll:
                enroll();
                break;
            case Kind::Remove: {
                auto candidates = indices(true);
                auto i = candidates[rng_() % candidates.size()];
                root_->callMethod("Remove")
                    .onInterface(kManagerInterface)
                    .withArguments(fps_[i], std::string("ima"));
                enrolled_[i] = false;
                break;
            }
        }
    }

    void enroll() {
        auto candidates = indices(false);
        std::shuffle(candidates.begin(), candidates.end(), rng_);
        candidates.resize(std::min<std::size_t>(candidates.size(), 1 + rng_() % 2));
        Bytes bundle;
        for (auto i : candidates) {
            auto pem = certs_[i].pem_bytes();
            bundle.insert(bundle.end(), pem.begin(), pem.end());
        }
        std::vector<BusResult> results;
        root_->callMethod("Enroll")
            .onInterface(kManagerInterface)
            .withArguments(bundle, std::string("ima"), std::map<std::string, sdbus::Variant>{})
            .storeResultsTo(results);
        if (results.size() != candidates.size()) {
            error(Kind::Enroll, "results", std::to_string(results.size()) + " results");
            return;
        }
        for (std::size_t j = 0; j < candidates.size(); ++j) {
            auto i = candidates[j];
            if (!accepted_of(results[j]) || serial_of(results[j]) <= 0 ||
                fingerprint_of(results[j]) != fps_[i]) {
                error(Kind::Enroll, "refused", fps_[i]);
                continue;
            }
            enrolled_[i] = true;
        }
    }

    void read_property() {
        static const char* const kNames[] = {"Version",   "Mode",  "PolicyDigest",
                                             "Compliant", "Drift", "LastReconcile"};
        const std::string name = kNames[rng_() % std::size(kNames)];
        auto value = root_->getProperty(name).onInterface(kManagerInterface);
        // Every change is complete when its call returns and nobody works
        // behind anchord's back here: it is compliant all along.
        if (name == "Compliant" && !value.get<bool>()) error(Kind::Property, "not-compliant", "");
        if (name == "Drift" && !value.get<std::vector<BusQuad>>().empty())
            error(Kind::Property, "drift", "");
    }

    // The keys this client enrolled are listed, the ones it removed are not.
    void read_keys() {
        auto keys =
            ima_->getProperty("Keys").onInterface(kKeyringInterface).get<std::vector<BusKey>>();
        std::set<std::string> listed;
        for (const auto& k : keys) {
            if (k.get<3>() == "anchord") listed.insert(k.get<2>());
        }
        for (std::size_t i = 0; i < certs_.size(); ++i) {
            if (listed.contains(fps_[i]) != enrolled_[i])
                error(Kind::Keys, enrolled_[i] ? "missing" : "stale", fps_[i]);
        }
    }

    void error(Kind kind, const std::string& what, const std::string& detail) {
        report_ += "err " + name_of(kind) + " " + what + " " + one_line(detail) + "\n";
    }

    void flush(int out) {
        write_all(out, report_);
        report_.clear();
    }

    const std::vector<TestCert>& certs_;
    std::vector<std::string> fps_;
    std::vector<bool> enrolled_;
    std::string address_;
    std::mt19937 rng_;
    std::string report_;
    std::unique_ptr<sdbus::IConnection> bus_;
    std::unique_ptr<sdbus::IProxy> root_;
    std::unique_ptr<sdbus::IProxy> ima_;
};

class LoadTest : public AnchordTest {
  protected:
    // The state lives on tmpfs: each change is saved with fsync (twice for
    // an enrollment), and on this machine's disk that alone takes tens of
    // milliseconds; here the figures are anchord's own.
    void SetUp() override {
        AnchordTest::SetUp();
        if (HasFatalFailure()) return;
        char templ[] = "/dev/shm/anchord-load-state.XXXXXX";
        ASSERT_NE(::mkdtemp(templ), nullptr) << std::strerror(errno);
        fast_state_ = templ;
        extra_args_ = {"--state-dir", fast_state_.string()};  // the last one counts
    }
    void TearDown() override {
        AnchordTest::TearDown();
        std::error_code ec;
        if (!fast_state_.empty()) fs::remove_all(fast_state_, ec);
    }

    // Leaves for ima signed by `issuer`. They share one key (an RSA key
    // takes long to make, a signature does not), and each has a name of its
    // own, so that the kernel describes each key differently.
    std::vector<TestCert> make_leaves(std::size_t n, const std::string& prefix,
                                      const TestCert& issuer, bool compact = false) {
        if (!leaf_key_) leaf_key_ = generate_key(KeyType::Rsa2048);
        std::vector<TestCert> out;
        out.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            auto spec = signing_spec(prefix + std::to_string(i));
            if (compact) {
                // A thousand PEM certificates must fit in one call's 1 MiB
                // (about 1,046 bytes each): no extension the policy and the
                // kernel can do without, a small serial.
                spec.subject_key_id = false;
                spec.extended_key_usage.clear();
                spec.serial = i + 1;
            }
            out.push_back(make_signed(spec, issuer, KeyType::Rsa2048, leaf_key_));
        }
        return out;
    }

    fs::path fast_state_;
    std::shared_ptr<EVP_PKEY> leaf_key_;
};

TEST_F(LoadTest, ThirtyTwoClientsMakeMixedCallsAndEveryKeyIsAccountedFor) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);

    auto all = make_leaves(kClients * kCertificatesPerClient, "load ", pki_.chain.intermediate);
    std::vector<std::vector<TestCert>> sets(kClients);
    for (std::size_t i = 0; i < all.size(); ++i) sets[i / kCertificatesPerClient].push_back(all[i]);

    std::vector<std::function<int(int)>> bodies;
    for (int c = 0; c < kClients; ++c) {
        bodies.push_back([&, c](int out) { return Client(c, sets[c], bus_->address()).run(out); });
    }
    const auto start = Clock::now();
    auto outcomes = run_callers(bodies);
    const auto wall = std::chrono::duration_cast<Micros>(Clock::now() - start).count();

    std::map<std::string, std::vector<std::int64_t>> latencies;
    std::vector<std::string> errors;
    std::set<std::string> left;
    long total_calls = 0;
    for (int c = 0; c < kClients; ++c) {
        EXPECT_EQ(outcomes[c].exit_code, 0) << "client " << c;
        std::istringstream lines(outcomes[c].output);
        bool finished = false;
        for (std::string line; std::getline(lines, line);) {
            std::istringstream words(line);
            std::string tag;
            words >> tag;
            if (tag == "lat") {
                std::string kind;
                std::int64_t usec = 0;
                words >> kind >> usec;
                latencies[kind].push_back(usec);
            } else if (tag == "err") {
                errors.push_back("client " + std::to_string(c) + ": " + line.substr(4));
            } else if (tag == "left") {
                std::string f;
                words >> f;
                left.insert(f);
            } else if (tag == "calls") {
                long n = 0;
                words >> n;
                total_calls += n;
                finished = true;
            }
        }
        EXPECT_TRUE(finished) << "client " << c << " did not report its end";
    }
    EXPECT_EQ(total_calls, static_cast<long>(kClients) * kCallsPerClient);
    EXPECT_TRUE(errors.empty()) << errors.size() << " unexpected outcome(s), the first: "
                                << (errors.empty() ? "" : errors.front());
    for (std::size_t i = 0; i < std::min<std::size_t>(errors.size(), 20); ++i)
        std::cout << "  unexpected: " << errors[i] << "\n";

    // The figures.
    std::cout << "[ load ] " << kClients << " clients x " << kCallsPerClient
              << " calls: " << total_calls << " calls in " << ms(wall) << ", "
              << static_cast<long>(static_cast<double>(total_calls) * 1e6 /
                                   static_cast<double>(std::max<std::int64_t>(wall, 1)))
              << " calls/s\n";
    for (auto& [kind, values] : latencies) {
        std::sort(values.begin(), values.end());
        std::cout << "[ load ]   " << kind << ": " << values.size() << " calls, p50 "
                  << ms(percentile(values, 0.5)) << ", p99 " << ms(percentile(values, 0.99))
                  << ", max " << ms(values.back()) << "\n";
        RecordProperty("p50_usec_" + kind, std::to_string(percentile(values, 0.5)));
        RecordProperty("p99_usec_" + kind, std::to_string(percentile(values, 0.99)));
    }
    RecordProperty("calls", std::to_string(total_calls));
    RecordProperty("wall_usec", std::to_string(wall));

    // What the clients left enrolled is exactly what anchord lists, what
    // the kernel holds and what the state file records.
    EXPECT_EQ(fingerprints("ima"), left);
    std::set<key_serial_t> listed_serials;
    for (const auto& k : keys("ima")) listed_serials.insert(k.get<0>());
    auto kernel = kernel_keys("ima");
    EXPECT_EQ(std::set<key_serial_t>(kernel.begin(), kernel.end()), listed_serials);
    EXPECT_EQ(kernel.size(), left.size());
    auto state = state::StateStore(fast_state_).load();
    std::set<std::string> recorded;
    for (const auto& r : state.records) {
        if (r.keyring == LogicalKeyring::Ima) recorded.insert(r.fingerprint.to_string());
    }
    EXPECT_EQ(recorded, left);
    EXPECT_TRUE(state.pending.empty());
    EXPECT_TRUE(manager_property<bool>("Compliant"));
    EXPECT_TRUE(manager_property<std::vector<BusQuad>>("Drift").empty());
    std::cout << "[ load ] left enrolled at the end: " << left.size() << " keys\n";
}

// An sd-bus connection of the test's own, to send a call without waiting
// for its reply.
struct BusDeleter {
    void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
using BusPtr = std::unique_ptr<sd_bus, BusDeleter>;
struct MessageDeleter {
    void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using MessagePtr = std::unique_ptr<sd_bus_message, MessageDeleter>;
struct SlotDeleter {
    void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotDeleter>;

BusPtr open_bus(const std::string& address) {
    sd_bus* raw = nullptr;
    if (sd_bus_new(&raw) < 0) return nullptr;
    BusPtr bus(raw);
    if (sd_bus_set_address(raw, address.c_str()) < 0 || sd_bus_set_bus_client(raw, 1) < 0 ||
        sd_bus_start(raw) < 0) {
        return nullptr;
    }
    return bus;
}

// The reply to the big Enroll, filled in by sd-bus's callback.
struct PendingReply {
    bool arrived = false;
    std::string error_name;  // "" for a method return
    std::size_t results = 0;
};

int on_reply(sd_bus_message* m, void* userdata, sd_bus_error*) {
    auto* reply = static_cast<PendingReply*>(userdata);
    reply->arrived = true;
    if (sd_bus_message_is_method_error(m, nullptr)) {
        const sd_bus_error* e = sd_bus_message_get_error(m);
        reply->error_name = e && e->name ? e->name : "?";
        return 0;
    }
    if (sd_bus_message_enter_container(m, 'a', "(usbia(sss)(bss)s)") > 0) {
        while (sd_bus_message_skip(m, "(usbia(sss)(bss)s)") > 0) ++reply->results;
    }
    return 0;
}

TEST_F(LoadTest, ReadsAreAnsweredWhileAThousandCertificatesEnroll) {
    ASSERT_TRUE(start_daemon());
    // An issuer with a one-letter name: the name is in every leaf.
    const auto issuer = make_signed(ca_spec("i"), pki_.chain.root);
    ASSERT_EQ(enroll(issuer.der, "secondary").size(), 1u);
    auto leaves = make_leaves(kBigBundle, "b", issuer, /*compact=*/true);
    Bytes bundle;
    for (const auto& c : leaves) {
        auto pem = c.pem_bytes();
        bundle.insert(bundle.end(), pem.begin(), pem.end());
    }
    ASSERT_LE(bundle.size(), ReadLimits{}.max_bytes) << "the bundle must fit in one call";

    // The Enroll goes out on a connection of its own and is not waited for.
    auto sender = open_bus(bus_->address());
    ASSERT_TRUE(sender);
    sd_bus_message* raw = nullptr;
    ASSERT_GE(sd_bus_message_new_method_call(sender.get(), &raw, kBusName, kManagerPath,
                                             kManagerInterface, "Enroll"),
              0);
    MessagePtr call(raw);
    ASSERT_GE(sd_bus_message_append_array(call.get(), 'y', bundle.data(), bundle.size()), 0);
    ASSERT_GE(sd_bus_message_append(call.get(), "sa{sv}", "ima", 0), 0);
    PendingReply reply;
    sd_bus_slot* raw_slot = nullptr;
    const auto sent = Clock::now();
    // A generous bound (sanitizer builds are slow): a hang still ends.
    ASSERT_GE(sd_bus_call_async(sender.get(), &raw_slot, call.get(), on_reply, &reply,
                                600ULL * 1000 * 1000),
              0);
    SlotPtr slot(raw_slot);
    // A change that must wait for the enrollment (the manager's lock): it
    // waits on a worker, never on the bus thread.
    PendingReply removed;
    auto call_async = [&](const char* member, PendingReply& into,
                          const std::function<int(sd_bus_message*)>& append) {
        sd_bus_message* m = nullptr;
        if (sd_bus_message_new_method_call(sender.get(), &m, kBusName, kManagerPath,
                                           kManagerInterface, member) < 0)
            return SlotPtr();
        MessagePtr owned(m);
        sd_bus_slot* out = nullptr;
        if (append(m) < 0 ||
            sd_bus_call_async(sender.get(), &out, m, on_reply, &into, 600ULL * 1000 * 1000) < 0)
            return SlotPtr();
        return SlotPtr(out);
    };
    auto remove_slot = call_async("Remove", removed, [&](sd_bus_message* m) {
        return sd_bus_message_append(m, "ss", fp(pki_.chain.leaf).c_str(), "ima");
    });
    ASSERT_TRUE(remove_slot);
    // anchord handles one connection's calls in order on its bus thread:
    // once this read is answered, the Enroll and the Remove were received
    // and handed to workers.
    char* version = nullptr;
    ASSERT_GE(sd_bus_get_property_string(sender.get(), kBusName, kManagerPath, kManagerInterface,
                                         "Version", nullptr, &version),
              0);
    std::free(version);

    auto objects_proxy = sdbus::createProxy(*connection_, kBusName, kManagerPath);
    auto ima = sdbus::createProxy(*connection_, kBusName, std::string(kKeyringPathPrefix) + "ima");
    auto pump = [&] {
        while (sd_bus_process(sender.get(), nullptr) > 0) {
        }
        return reply.arrived;
    };
    std::vector<std::int64_t> latencies;
    int rounds_before_reply = 0;
    std::size_t keys_seen_max = 0;
    auto timed = [&](const std::function<void()>& read) {
        auto start = Clock::now();
        read();
        latencies.push_back(std::chrono::duration_cast<Micros>(Clock::now() - start).count());
    };
    // A round of reads; it counts when the Enroll's reply had still not
    // arrived after its last read was answered. The bound on rounds only
    // stops a runaway loop.
    for (int round = 0; round < 100000 && !pump(); ++round) {
        timed([&] { EXPECT_FALSE(manager_property<std::string>("Version").empty()); });
        timed([&] { manager_property<bool>("Compliant"); });
        timed([&] {
            auto k =
                ima->getProperty("Keys").onInterface(kKeyringInterface).get<std::vector<BusKey>>();
            keys_seen_max = std::max(keys_seen_max, k.size());
        });
        timed([&] {
            ManagedObjects objects;
            objects_proxy->callMethod("GetManagedObjects")
                .onInterface("org.freedesktop.DBus.ObjectManager")
                .storeResultsTo(objects);
            EXPECT_EQ(objects.size(), kAllLogicalKeyrings.size());
        });
        if (!pump()) ++rounds_before_reply;
    }
    // Then the reply itself, waited for with a bound.
    for (int i = 0; i < 600 && !pump(); ++i) sd_bus_wait(sender.get(), 1000 * 1000);
    const auto enroll_took = std::chrono::duration_cast<Micros>(Clock::now() - sent).count();

    for (int i = 0; i < 600 && !removed.arrived; ++i) {
        pump();
        if (!removed.arrived) sd_bus_wait(sender.get(), 1000 * 1000);
    }
    const auto changes_took = std::chrono::duration_cast<Micros>(Clock::now() - sent).count();
    ASSERT_TRUE(reply.arrived) << "no reply to the Enroll";
    EXPECT_EQ(removed.error_name, dbus_error_name(ErrorCode::NotFound));
    EXPECT_EQ(reply.error_name, "");
    EXPECT_EQ(reply.results, kBigBundle);
    EXPECT_GE(rounds_before_reply, 3)
        << "reads (3 properties and GetManagedObjects a round) must be answered while the "
           "enrollment runs (and a Remove waits for it), not after it";
    EXPECT_EQ(fingerprints("ima").size(), kBigBundle);
    EXPECT_EQ(kernel_keys("ima").size(), kBigBundle);
    EXPECT_TRUE(manager_property<bool>("Compliant"));
    // A reconcile over the thousand keys finds every one of them linked.
    const auto reconcile_sent = Clock::now();
    std::vector<sdbus::Struct<std::string, std::string, std::string, std::string>> drift;
    manager_->callMethod("Reconcile").onInterface(kManagerInterface).storeResultsTo(drift);
    const auto reconcile_took =
        std::chrono::duration_cast<Micros>(Clock::now() - reconcile_sent).count();
    EXPECT_TRUE(drift.empty());
    EXPECT_EQ(kernel_keys("ima").size(), kBigBundle);
    std::cout << "[ load ] Reconcile with " << kBigBundle << " keys: " << ms(reconcile_took)
              << "\n";

    std::sort(latencies.begin(), latencies.end());
    std::cout << "[ load ] Enroll of " << kBigBundle << " certificates (" << bundle.size()
              << " bytes): reply after " << ms(enroll_took) << "; meanwhile " << latencies.size()
              << " reads in " << rounds_before_reply
              << " complete rounds before the reply, latency p50 " << ms(percentile(latencies, 0.5))
              << ", p99 " << ms(percentile(latencies, 0.99)) << ", max "
              << ms(latencies.empty() ? 0 : latencies.back())
              << "; most keys seen linked meanwhile: " << keys_seen_max
              << "; the Remove sent with it answered after " << ms(changes_took) << "\n";
    RecordProperty("read_p50_usec", std::to_string(percentile(latencies, 0.5)));
    RecordProperty("read_max_usec", std::to_string(latencies.empty() ? 0 : latencies.back()));
    RecordProperty("enroll_usec", std::to_string(enroll_took));
}

}  // namespace
}  // namespace anchord::testing
