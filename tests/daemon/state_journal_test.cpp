// The state journal: a save after the first appends one line of what
// changed; the snapshot is written anew only when the journal outgrows it.
// Every case reads back through a new store, as the next anchord would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "state/state_store.hpp"

namespace anchord::state {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Bytes der_of(int n, std::size_t size = 64) {
    Bytes der(size, static_cast<std::uint8_t>(n));
    der[0] = 0x30;
    der[1] = static_cast<std::uint8_t>(n);
    der[2] = static_cast<std::uint8_t>(n >> 8);
    return der;
}

Record record_of(int n, LogicalKeyring keyring = LogicalKeyring::Ima, std::size_t size = 64) {
    Record r;
    r.der = der_of(n, size);
    r.fingerprint = Fingerprint::of_der(r.der);
    r.keyring = keyring;
    r.source = "/etc/anchord/anchors.d/ima/" + std::to_string(n) + ".der";
    r.origin = Origin::Dropin;
    r.enrolled_at = std::chrono::sys_seconds{std::chrono::seconds{1'800'000'000 + n}};
    r.caller_uid = static_cast<std::uint32_t>(n);
    return r;
}

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, std::string_view text, bool append = false) {
    std::ofstream out(p, std::ios::binary | (append ? std::ios::app : std::ios::trunc));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    ASSERT_TRUE(out.good());
}

std::size_t lines_of(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

class StateJournalTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string templ = (fs::temp_directory_path() / "anchord-journal-test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr) << std::strerror(errno);
        root_ = templ;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    State reload() const { return StateStore(root_).load(); }
    fs::path snapshot() const { return root_ / "state.json"; }
    fs::path journal() const { return root_ / "state.journal"; }

    fs::path root_;
};

// Every kind of change is one appended line, the snapshot stays as it was,
// and a new store reads back exactly the state saved, records in order.
TEST_F(StateJournalTest, EverySaveAfterTheFirstIsOneLineAndReadsBackEqual) {
    StateStore store(root_);
    State s;
    s.records = {record_of(1), record_of(2, LogicalKeyring::Evm), record_of(3)};
    store.save(s);
    const std::string first_snapshot = read_bytes(snapshot());
    ASSERT_EQ(lines_of(read_bytes(journal())), 1u) << "the header alone";

    std::vector<std::function<void(State&)>> changes{
        [](State& x) { x.records.push_back(record_of(4)); },        // added
        [](State& x) { x.records.erase(x.records.begin() + 1); },   // removed
        [](State& x) { x.records[0].origin = Origin::Api; },        // changed in place
        [](State& x) { x.records[1].source = "caf\xc3\xa9.der"; },  // another field
        [](State& x) { x.records[0].caller_uid = 4242; },           // and another
        [](State& x) { x.sealed.insert(LogicalKeyring::Evm); },     // sealed
        [](State& x) {                                              // intents
            x.add_intent({Fingerprint::of_der(der_of(9)), LogicalKeyring::Ima, IntentAction::Link,
                          der_of(9)});
            x.add_intent({x.records[0].fingerprint, x.records[0].keyring, IntentAction::Unlink});
        },
        [](State& x) { x.pending.erase(x.pending.begin()); },  // one settled
        [](State& x) {                                         // several at once
            x.records.push_back(record_of(5));
            x.records.push_back(record_of(6, LogicalKeyring::Platform));
            x.records.erase(x.records.begin());
            x.pending.clear();
            x.sealed.clear();
        },
        [](State& x) { x.records.push_back(record_of(1)); },  // back again, now last
    };
    std::size_t lines = 1;
    for (std::size_t i = 0; i < changes.size(); ++i) {
        SCOPED_TRACE("change " + std::to_string(i));
        changes[i](s);
        store.save(s);
        EXPECT_EQ(read_bytes(snapshot()), first_snapshot) << "the snapshot was rewritten";
        EXPECT_EQ(lines_of(read_bytes(journal())), ++lines);
        EXPECT_EQ(reload(), s);
    }

    // Saving what is already saved writes nothing.
    const std::string journal_before = read_bytes(journal());
    store.save(s);
    EXPECT_EQ(read_bytes(journal()), journal_before);
}

// A record's certificate goes into the journal only when the record is
// new: a save that changes one field of one record of many stays small.
TEST_F(StateJournalTest, ALineHoldsWhatChangedNotTheWholeState) {
    StateStore store(root_);
    State s;
    for (int i = 0; i < 100; ++i) s.records.push_back(record_of(i, LogicalKeyring::Ima, 1500));
    store.save(s);
    const auto before = fs::file_size(journal());
    s.sealed.insert(LogicalKeyring::Ima);
    store.save(s);
    EXPECT_LT(fs::file_size(journal()) - before, 100u);
    s.records.push_back(record_of(100, LogicalKeyring::Ima, 1500));
    store.save(s);
    const auto one_record = fs::file_size(journal()) - before;
    EXPECT_GT(one_record, 2000u) << "the new record's certificate, in base64";
    EXPECT_LT(one_record, 2600u) << "and nothing of the other hundred";
    EXPECT_EQ(reload(), s);
}

// Once the journal would outgrow the snapshot (and kJournalFloor), the
// whole state is written as a new snapshot and the journal starts over.
TEST_F(StateJournalTest, AJournalLargerThanItsSnapshotIsFoldedIntoANewOne) {
    StateStore store(root_);
    State s;
    store.save(s);
    const std::string first_id = json::parse(read_bytes(snapshot()))["snapshot_id"];
    std::size_t saves = 0;
    while (json::parse(read_bytes(snapshot()))["snapshot_id"] == first_id) {
        ASSERT_LT(saves, 1000u) << "the journal never folded";
        s.records.push_back(record_of(static_cast<int>(saves), LogicalKeyring::Ima, 1500));
        store.save(s);
        ++saves;
        ASSERT_LE(fs::file_size(journal()), kJournalFloor);
    }
    // ~2 KiB per record: the floor is reached after about 128 saves.
    EXPECT_GT(saves, kJournalFloor / 4096);
    EXPECT_EQ(lines_of(read_bytes(journal())), 1u) << "a new journal holds its header alone";
    EXPECT_EQ(json::parse(
                  read_bytes(journal()).substr(0, read_bytes(journal()).find('\n')))["snapshot_id"],
              json::parse(read_bytes(snapshot()))["snapshot_id"]);
    EXPECT_EQ(reload(), s);
    s.records.erase(s.records.begin());
    store.save(s);
    EXPECT_EQ(lines_of(read_bytes(journal())), 2u);
    EXPECT_EQ(reload(), s);
}

// anchord killed while appending: the cut line never counted (that save
// did not return), and the next save does not continue it.
TEST_F(StateJournalTest, ALastLineCutShortIsIgnoredAndCutOffByTheNextSave) {
    State s;
    s.records = {record_of(1)};
    StateStore(root_).save(s);
    {
        StateStore store(root_);
        ASSERT_EQ(store.load(), s);
        State more = s;
        more.records.push_back(record_of(2));
        store.save(more);
    }
    const std::string whole = read_bytes(journal());
    write_bytes(journal(), whole.substr(0, whole.size() - 40));  // the record's line, cut
    EXPECT_EQ(reload(), s);
    write_bytes(journal(), std::string(4096, '\0'), true);  // and zeros after it, as a crash may
    EXPECT_EQ(reload(), s);

    StateStore store(root_);
    ASSERT_EQ(store.load(), s);
    s.sealed.insert(LogicalKeyring::Ima);
    store.save(s);
    EXPECT_EQ(reload(), s);
    EXPECT_EQ(lines_of(read_bytes(journal())), 2u);
}

// Killed between the new snapshot and its journal: the old journal names
// the old snapshot, so none of its lines are applied to the new one.
TEST_F(StateJournalTest, AJournalOfAnotherSnapshotIsIgnored) {
    State s;
    s.records = {record_of(1)};
    StateStore store(root_);
    store.save(s);
    s.records.push_back(record_of(2));
    store.save(s);
    const std::string old_journal = read_bytes(journal());
    ASSERT_EQ(lines_of(old_journal), 2u);

    State replaced;
    replaced.records = {record_of(3)};
    StateStore(root_).save(replaced);  // a store that read nothing writes a whole new snapshot
    write_bytes(journal(), old_journal);
    EXPECT_EQ(reload(), replaced);
}

// Another writer replaced the snapshot: this store must not append lines
// meant for the snapshot it knew to the other one's journal.
TEST_F(StateJournalTest, AStoreWhoseFilesWereReplacedWritesTheWholeState) {
    StateStore a(root_);
    State s;
    s.records = {record_of(1), record_of(2)};
    a.save(s);

    State other;
    other.records = {record_of(7)};
    StateStore(root_).save(other);

    s.records.erase(s.records.begin());  // as a line: "forget 1", wrong for `other`
    a.save(s);
    EXPECT_EQ(reload(), s);
}

// anchord never reorders records, but a state that does is still saved
// exactly: the whole state is written.
TEST_F(StateJournalTest, ReorderedRecordsAreSavedInTheirNewOrder) {
    StateStore store(root_);
    State s;
    s.records = {record_of(1), record_of(2), record_of(3)};
    store.save(s);
    std::swap(s.records[0], s.records[2]);
    store.save(s);
    EXPECT_EQ(reload(), s);
    s.records.push_back(record_of(4));
    std::swap(s.records[0], s.records[3]);  // a new record before old ones
    store.save(s);
    EXPECT_EQ(reload(), s);
}

// A whole line that is wrong cannot be a crash: StateError naming the
// journal and the line, and both files left as they are.
TEST_F(StateJournalTest, EveryDamagedLineIsAStateErrorNamingItsLine) {
    State s;
    s.records = {record_of(1)};
    StateStore(root_).save(s);
    const std::string snapshot_text = read_bytes(snapshot());
    const std::string header = read_bytes(journal());
    const std::string fp = Fingerprint::of_der(der_of(1)).to_string();

    const std::vector<std::pair<std::string, std::string>> damaged{
        {"not JSON", "{\"ops\": [\n"},
        {"not an object", "[1, 2]\n"},
        {"no ops", "{\"op\": []}\n"},
        {"ops not an array", "{\"ops\": {}}\n"},
        {"an unknown operation", "{\"ops\": [{\"rename\": {}}]}\n"},
        {"two operations in one", "{\"ops\": [{\"sealed\": [], \"pending\": []}]}\n"},
        {"a record without its certificate",
         "{\"ops\": [{\"record\": {\"fingerprint\": \"" + fp + "\", \"keyring\": \"ima\"}}]}\n"},
        {"a forget of no keyring", "{\"ops\": [{\"forget\": {\"fingerprint\": \"" + fp +
                                       "\", \"keyring\": \"nowhere\"}}]}\n"},
        {"a sealed keyring that is none", "{\"ops\": [{\"sealed\": [\"ima\", 7]}]}\n"},
        {"an intent of no action", "{\"ops\": [{\"pending\": [{\"fingerprint\": \"" + fp +
                                       "\", \"keyring\": \"ima\", \"action\": \"relink\"}]}]}\n"},
    };
    for (const auto& [what, line] : damaged) {
        SCOPED_TRACE(what);
        const std::string text = header + "{\"ops\": [{\"sealed\": [\"evm\"]}]}\n" + line;
        write_bytes(journal(), text);
        try {
            (void)StateStore(root_).load();
            ADD_FAILURE() << "loaded a journal with " << what;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::StateError);
            const std::string message = e.what();
            EXPECT_NE(message.find(journal().string() + ", line 3"), std::string::npos) << message;
        }
        EXPECT_EQ(read_bytes(journal()), text);
        EXPECT_EQ(read_bytes(snapshot()), snapshot_text);
    }

    write_bytes(journal(), "{\"journal\": 2, \"snapshot_id\": \"0000000000000000\"}\n");
    EXPECT_THROW((void)reload(), Error) << "a journal format of a newer anchord";
}

}  // namespace
}  // namespace anchord::state
