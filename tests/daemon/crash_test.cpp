// Crash consistency and a full disk, end to end: the real anchord killed
// with SIGKILL at twenty moments of a 500-certificate enrollment, and an
// enrollment refused on a state directory with no room left. After each
// kill the restarted anchord must agree with the kernel: every recorded
// certificate linked, no key it linked left without a record, no intent
// left pending.
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <iostream>
#include <map>
#include <set>

#include "anchord/certificate.hpp"
#include "anchord_harness.hpp"
#include "state/state_store.hpp"
#include "tmpfs_mount.hpp"

namespace anchord::testing {
namespace {

constexpr std::size_t kLeaves = 500;
constexpr std::size_t kKills = 20;
constexpr std::size_t kPage = 4096;

// The descriptions of the certificate keys a kernel keyring links, one
// entry per key.
std::multiset<std::string> key_descriptions(key_serial_t ring) {
    std::multiset<std::string> out;
    for (auto serial : ring_serials(ring)) {
        char* raw = nullptr;
        if (keyctl_describe_alloc(serial, &raw) < 0) continue;  // gone meanwhile
        std::unique_ptr<char, decltype(&std::free)> owned(raw, &std::free);
        // "type;uid;gid;perm;description"
        std::string_view text(raw);
        std::size_t pos = 0;
        for (int field = 0; field < 4 && pos != std::string_view::npos; ++field) {
            pos = text.find(';', pos);
            if (pos != std::string_view::npos) ++pos;
        }
        if (pos == std::string_view::npos || !text.starts_with("asymmetric;")) continue;
        out.emplace(text.substr(pos));
    }
    return out;
}

std::string kernel_description(const Bytes& der) {
    return parse_der_certificate(der).info().kernel_description;
}

std::multiset<std::string> recorded_descriptions(const state::State& state, LogicalKeyring k) {
    std::multiset<std::string> out;
    for (const auto& r : state.records) {
        if (r.keyring == k) out.insert(kernel_description(r.der));
    }
    return out;
}

std::size_t records_in(const state::State& state, LogicalKeyring k) {
    return static_cast<std::size_t>(std::count_if(state.records.begin(), state.records.end(),
                                                  [&](const auto& r) { return r.keyring == k; }));
}

ino_t inode_of(const fs::path& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Changes with every save: a new snapshot has a new inode, an append makes
// the journal longer.
std::pair<ino_t, off_t> save_mark(const fs::path& dir) {
    struct stat st {};
    const off_t journal = ::stat((dir / "state.journal").c_str(), &st) == 0 ? st.st_size : -1;
    return {inode_of(dir / "state.json"), journal};
}

// A file that takes up the room left on a file system.
class Filler {
  public:
    explicit Filler(fs::path file) : file_(std::move(file)) {
        fd_ = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        std::string page(kPage, 'x');
        while (fd_ >= 0 &&
               ::write(fd_, page.data(), page.size()) == static_cast<ssize_t>(page.size())) {
            size_ += page.size();
        }
    }
    Filler(const Filler&) = delete;
    Filler& operator=(const Filler&) = delete;
    ~Filler() { remove(); }

    bool ok() const { return fd_ >= 0 && size_ > 0; }
    // Gives back `pages` pages of what it took.
    bool leave_free(std::size_t pages) {
        if (pages * kPage > size_) return false;
        size_ -= pages * kPage;
        return ::ftruncate(fd_, static_cast<off_t>(size_)) == 0;
    }
    void remove() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        ::unlink(file_.c_str());
    }

  private:
    fs::path file_;
    int fd_ = -1;
    std::size_t size_ = 0;
};

class CrashTest : public AnchordTest {
  protected:
    // kLeaves signing leaves under the chain's intermediate. One key for
    // all: each subject differs, so each kernel description does too.
    void make_leaves() {
        auto key = generate_key(KeyType::Rsa2048);
        for (std::size_t i = 0; i < kLeaves; ++i) {
            auto leaf = make_signed(signing_spec("anchord crash leaf " + std::to_string(i)),
                                    pki_.chain.intermediate, KeyType::Rsa2048, key);
            auto pem = leaf.pem_bytes();
            bundle_.insert(bundle_.end(), pem.begin(), pem.end());
            leaf_descriptions_.insert(kernel_description(leaf.der));
            leaves_.push_back(std::move(leaf));
        }
        ASSERT_EQ(leaf_descriptions_.size(), kLeaves) << "every leaf must have its own description";
    }

    // Enroll(bundle_, "ima") from a child process with a connection of its
    // own, so the call is under way while this process watches the kernel.
    // The child exits 0 when anchord replied with every result, 1 when the
    // call failed (anchord was killed).
    pid_t start_enroll_caller() {
        const std::string address = bus_->address();
        const pid_t parent = ::getpid();
        pid_t child = ::fork();
        if (child != 0) return child;
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        int code = 1;
        try {
            auto connection = sdbus::createSessionBusConnectionWithAddress(address);
            auto proxy = sdbus::createProxy(*connection, kBusName, kManagerPath);
            std::vector<BusResult> results;
            proxy->callMethod("Enroll")
                .onInterface(kManagerInterface)
                .withTimeout(std::chrono::minutes(10))
                .withArguments(bundle_, std::string("ima"), std::map<std::string, sdbus::Variant>{})
                .storeResultsTo(results);
            code = results.size() == kLeaves ? 0 : 2;
        } catch (...) {
            code = 1;
        }
        ::_exit(code);
    }

    // Kills anchord at once and reaps it.
    void kill_daemon() {
        manager_.reset();
        ASSERT_GT(pid_, 0);
        ASSERT_EQ(::kill(pid_, SIGKILL), 0);
        int status = 0;
        ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
        pid_ = -1;
        // The bus must have let the name go before a new anchord asks for it.
        auto driver =
            sdbus::createProxy(*connection_, "org.freedesktop.DBus", "/org/freedesktop/DBus");
        ASSERT_TRUE(eventually([&] {
            bool owned = true;
            driver->callMethod("NameHasOwner")
                .onInterface("org.freedesktop.DBus")
                .withArguments(std::string(kBusName))
                .storeResultsTo(owned);
            return !owned;
        }));
    }

    state::State load_state() { return state::StateStore(state_dir()).load(); }

    std::vector<TestCert> leaves_;
    Bytes bundle_;
    std::set<std::string> leaf_descriptions_;
};

// --- SIGKILL during a 500-certificate enrollment ------------------------------------

TEST_F(CrashTest, SigkillDuringABatchEnrollmentLeavesStateAndKeyringsAgreeing) {
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    ASSERT_NO_FATAL_FAILURE(make_leaves());
    const std::string inter_description = kernel_description(pki_.chain.intermediate.der);

    // The moments, by what the test sees: kWriteAhead, the write-ahead
    // intents are on disk (the state was saved); a number of keys
    // linked into ima, spread over 1..499, then all 500 (linked, not yet
    // recorded nor answered, unless anchord is faster than this loop);
    // kRecorded, the state saved again after all 500 were linked
    // (recorded; the reply may or may not be out).
    constexpr std::size_t kWriteAhead = 0;
    constexpr std::size_t kRecorded = kLeaves + 1;
    std::vector<std::size_t> moments{kWriteAhead};
    for (std::size_t i = 1; i + 2 < kKills; ++i) moments.push_back(i * kLeaves / (kKills - 2));
    moments.push_back(kLeaves);
    moments.push_back(kRecorded);
    ASSERT_EQ(moments.size(), kKills);

    std::size_t rolled_back = 0, kept = 0;
    for (std::size_t moment : moments) {
        const std::string name = moment == kWriteAhead ? "write-ahead saved"
                                 : moment == kRecorded ? "recorded"
                                                       : std::to_string(moment) + " linked";
        SCOPED_TRACE("kill at moment " + name);
        const key_serial_t ima = keyring_property<int32_t>("ima", "Serial");
        const key_serial_t secondary = keyring_property<int32_t>("secondary", "Serial");
        ASSERT_TRUE(key_descriptions(ima).empty());
        const auto state_before = save_mark(state_dir());

        const pid_t caller = start_enroll_caller();
        ASSERT_GT(caller, 0);
        // No sleep: the kernel is asked as fast as it answers.
        bool reached = false;
        bool caller_done = false;
        int caller_status = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
        std::optional<std::pair<ino_t, off_t>> all_linked_state;  // for kRecorded
        while (!reached && !caller_done && std::chrono::steady_clock::now() < deadline) {
            if (moment == kWriteAhead) {
                reached = save_mark(state_dir()) != state_before;
            } else if (moment == kRecorded) {
                if (!all_linked_state && ring_serials(ima).size() >= kLeaves)
                    all_linked_state = save_mark(state_dir());
                reached = all_linked_state && save_mark(state_dir()) != *all_linked_state;
            } else {
                reached = ring_serials(ima).size() >= moment;
            }
            if (!reached) {
                caller_done = ::waitpid(caller, &caller_status, WNOHANG) == caller;
                ::sched_yield();
            }
        }
        ASSERT_NO_FATAL_FAILURE(kill_daemon());
        const std::size_t linked_at_kill = key_descriptions(ima).size();
        // kRecorded may come after the reply, when the final save was done
        // before the test saw the 500th key.
        EXPECT_TRUE(reached || (moment == kRecorded && caller_done))
            << "the moment never came (the caller "
            << (caller_done ? "finished first" : "was still waiting") << ")";
        if (!caller_done) {
            EXPECT_TRUE(
                eventually([&] { return ::waitpid(caller, &caller_status, WNOHANG) == caller; }));
        }

        // What the killed anchord left on disk.
        state::State left;
        ASSERT_NO_THROW(left = load_state()) << "the state file must load after SIGKILL";
        const std::size_t pending_at_kill = left.pending.size();

        ASSERT_TRUE(start_daemon()) << "anchord must start on the state a SIGKILL left";
        EXPECT_EQ(keyring_property<int32_t>("ima", "Serial"), ima)
            << "the restarted anchord must find the killed one's keyrings";
        state::State after;
        ASSERT_NO_THROW(after = load_state());
        EXPECT_TRUE(after.pending.empty()) << after.pending.size() << " intent(s) left pending";
        if (pending_at_kill > 0) {
            // Settling saved: no temporary file of the killed save is left.
            std::set<std::string> files;
            for (const auto& e : fs::directory_iterator(state_dir()))
                files.insert(e.path().filename().string());
            EXPECT_EQ(files, (std::set<std::string>{"state.journal", "state.json"}));
        }

        const std::size_t records = records_in(after, LogicalKeyring::Ima);
        EXPECT_TRUE(records == 0 || records == kLeaves)
            << "an enrollment is all or nothing; " << records << " records";
        const auto in_kernel = key_descriptions(ima);
        EXPECT_EQ(in_kernel, recorded_descriptions(after, LogicalKeyring::Ima))
            << "the ima keyring must hold exactly the recorded certificates";
        for (const auto& d : in_kernel) {
            // Nothing foreign was ever linked here: every key is a leaf.
            EXPECT_TRUE(leaf_descriptions_.contains(d)) << d;
        }
        EXPECT_EQ(key_descriptions(secondary), std::multiset<std::string>{inter_description});
        EXPECT_TRUE(manager_property<bool>("Compliant"));

        std::cout << "[ crash    ] " << name << ": " << linked_at_kill
                  << " key(s) linked at the kill, " << pending_at_kill
                  << " intent(s) pending, caller "
                  << (WIFEXITED(caller_status) ? WEXITSTATUS(caller_status) : -1)
                  << "; after restart " << records << " record(s), " << in_kernel.size()
                  << " key(s) in ima" << std::endl;
        (records == 0 ? rolled_back : kept) += 1;
        if (HasFatalFailure()) return;

        if (records > 0) {
            // Back to the intermediate alone: a clean stop takes the
            // sandbox with it, and the next start builds a new one.
            ASSERT_EQ(stop_daemon(), 0);
            auto state = load_state();
            std::erase_if(state.records,
                          [](const auto& r) { return r.keyring == LogicalKeyring::Ima; });
            state::StateStore(state_dir()).save(state);
            ASSERT_TRUE(start_daemon());
        }
    }
    std::cout << "[ crash    ] " << rolled_back << " enrollment(s) rolled back, " << kept << " kept"
              << std::endl;
}

// --- a full disk ---------------------------------------------------------------------

TEST_F(CrashTest, FullDiskRefusesEnrollmentWithStateErrorAndLeavesTheKeyrings) {
    TmpfsMount tmpfs(state_dir(), "size=4m,mode=0700");
    if (!tmpfs.mounted()) {
        GTEST_SKIP() << "cannot mount a tmpfs on " << state_dir() << " (" << tmpfs.error()
                     << "): the full-disk test needs CAP_SYS_ADMIN";
    }
    ASSERT_TRUE(start_daemon());
    ASSERT_EQ(enroll(pki_.chain.intermediate.der, "secondary").size(), 1u);
    ASSERT_NO_FATAL_FAILURE(make_leaves());

    const std::vector<std::string> logical{"secondary", "ima", "evm"};
    auto keyrings_now = [&] {
        std::map<std::string, std::vector<key_serial_t>> out;
        for (const auto& k : logical) out[k] = kernel_keys(k);
        return out;
    };
    const auto keyrings_before = keyrings_now();
    const std::string original = state_text();
    const auto original_state = state::StateStore(state_dir()).load();
    const ino_t original_inode = inode_of(state_file());
    ASSERT_FALSE(read_text(state_file()).empty());
    const std::string state_error = dbus_error_name(ErrorCode::StateError);

    // 1. Not even the write-ahead intents fit: nothing is linked at all.
    {
        Filler filler(state_dir() / "filler");
        ASSERT_TRUE(filler.ok());
        ASSERT_EQ(tmpfs.free_bytes() / kPage, 0u);
        EXPECT_EQ(error_name_of([&] { enroll(bundle_, "ima"); }), state_error);
        EXPECT_EQ(keyrings_now(), keyrings_before);
        EXPECT_EQ(state_text(), original) << "nothing can have been written";
    }

    // 2. The intents fit, the records do not: the keys are linked, then
    // unlinked again when the final save fails. The write-ahead file's size
    // is measured by writing the same state elsewhere.
    {
        auto ahead = state::StateStore(state_dir()).load();
        for (const auto& leaf : leaves_) {
            ahead.add_intent({Fingerprint::of_der(leaf.der), LogicalKeyring::Ima,
                              state::IntentAction::Link, leaf.der});
        }
        state::StateStore scratch(dir_ / "scratch");
        scratch.save(ahead);
        const auto ahead_pages = (fs::file_size(scratch.file()) + kPage - 1) / kPage;

        Filler filler(state_dir() / "filler");
        ASSERT_TRUE(filler.ok());
        // Room for the intents with half as much to spare (tmpfs counts
        // its blocks per CPU, so a page or two either way is not exact);
        // the final state is written while the write-ahead one is still
        // there and needs more than that: the records' dates, origins and
        // uids on top of the same certificates.
        const auto room = ahead_pages + ahead_pages / 2;
        ASSERT_TRUE(filler.leave_free(room));
        EXPECT_EQ(error_name_of([&] { enroll(bundle_, "ima"); }), state_error);
        EXPECT_EQ(keyrings_now(), keyrings_before) << "the linked keys must be unlinked again";
        EXPECT_EQ(state::StateStore(state_dir()).load(), original_state);
        EXPECT_NE(inode_of(state_file()), original_inode)
            << "the write-ahead save must have succeeded, so that the failure came after the "
               "links";
        auto back = state::StateStore(state_dir()).load();
        EXPECT_TRUE(back.pending.empty());
        std::cout << "[ full     ] write-ahead state " << ahead_pages << " page(s); " << room
                  << " page(s) left free" << std::endl;
    }

    // 3. With room again the same enrollment succeeds.
    auto results = enroll(bundle_, "ima");
    ASSERT_EQ(results.size(), kLeaves);
    for (const auto& r : results) EXPECT_TRUE(accepted_of(r));
    std::multiset<std::string> expected(leaf_descriptions_.begin(), leaf_descriptions_.end());
    EXPECT_EQ(key_descriptions(keyring_property<int32_t>("ima", "Serial")), expected);
    auto state = state::StateStore(state_dir()).load();
    EXPECT_EQ(records_in(state, LogicalKeyring::Ima), kLeaves);
    EXPECT_TRUE(state.pending.empty());
    EXPECT_TRUE(manager_property<bool>("Compliant"));
    // Stopped before the tmpfs goes.
    EXPECT_EQ(stop_daemon(), 0);
}

}  // namespace
}  // namespace anchord::testing
