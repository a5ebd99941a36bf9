// The state store: round trip, atomic replacement on a full disk, a
// StateError (never an overwrite) for every kind of damaged file, and the
// journal of changes after the snapshot.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "state/state_store.hpp"
#include "test_pki.hpp"
#include "tmpfs_mount.hpp"

namespace anchord::state {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::chrono::sys_seconds at(int y, unsigned m, unsigned d, int h, int min, int s) {
    return std::chrono::sys_days{std::chrono::year{y} / m / d} + std::chrono::hours{h} +
           std::chrono::minutes{min} + std::chrono::seconds{s};
}

Record make_record(const Bytes& der, LogicalKeyring keyring, Origin origin = Origin::Api,
                   std::string source = "", std::uint32_t uid = 0) {
    Record r;
    r.fingerprint = Fingerprint::of_der(der);
    r.keyring = keyring;
    r.der = der;
    r.origin = origin;
    r.source = std::move(source);
    r.enrolled_at = at(2026, 11, 22, 10, 0, 0);
    r.caller_uid = uid;
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

std::vector<std::string> dir_entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

class StateStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string templ = (fs::temp_directory_path() / "anchord-state-test.XXXXXX").string();
        ASSERT_NE(::mkdtemp(templ.data()), nullptr) << std::strerror(errno);
        root_ = templ;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }

    fs::path root_;
};

// Every member of the State survives save + load, with the documented JSON form.
TEST_F(StateStoreTest, RoundTrip) {
    auto a =
        testing::make_self_signed(testing::signing_spec("anchord state a"), testing::KeyType::P256);
    auto b =
        testing::make_self_signed(testing::signing_spec("anchord state b"), testing::KeyType::P256);

    State s;
    s.records.push_back(make_record(a.der, LogicalKeyring::Ima));
    s.records.push_back(make_record(b.der, LogicalKeyring::Evm, Origin::Dropin,
                                    "/etc/anchord/anchors.d/evm/b.der", 1000));
    s.records.back().enrolled_at = at(2030, 2, 28, 23, 59, 59);
    s.records.push_back(make_record(a.der, LogicalKeyring::Evm, Origin::Sandbox, "", 4294967295u));
    s.sealed = {LogicalKeyring::Ima, LogicalKeyring::Evm};
    s.pending = {Intent{Fingerprint::of_der(b.der), LogicalKeyring::Ima, IntentAction::Link, b.der},
                 Intent{Fingerprint::of_der(a.der), LogicalKeyring::Evm, IntentAction::Unlink}};

    StateStore store(root_ / "nested" / "state");
    store.save(s);
    State back = store.load();

    EXPECT_EQ(back.version, State::kVersion);
    ASSERT_EQ(back.records.size(), 3u);
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(back.records[i].fingerprint, s.records[i].fingerprint);
        EXPECT_EQ(back.records[i].keyring, s.records[i].keyring);
        EXPECT_EQ(back.records[i].der, s.records[i].der);
        EXPECT_EQ(back.records[i].origin, s.records[i].origin);
        EXPECT_EQ(back.records[i].source, s.records[i].source);
        EXPECT_EQ(back.records[i].enrolled_at, s.records[i].enrolled_at);
        EXPECT_EQ(back.records[i].caller_uid, s.records[i].caller_uid);
    }
    EXPECT_EQ(back.sealed, s.sealed);
    EXPECT_EQ(back.pending, s.pending);

    // The JSON form is a contract (an admin may read it; a later anchord migrates it).
    json doc = json::parse(read_bytes(store.file()));
    EXPECT_EQ(doc["version"], 3);
    ASSERT_TRUE(doc["snapshot_id"].is_string());
    EXPECT_EQ(doc["snapshot_id"].get<std::string>().size(), 16u);
    EXPECT_EQ(doc["records"][0]["fingerprint"], Fingerprint::of_der(a.der).to_string());
    EXPECT_EQ(doc["records"][0]["keyring"], "ima");
    EXPECT_EQ(doc["records"][0]["origin"], "api");
    EXPECT_EQ(doc["records"][0]["source"], "");
    EXPECT_EQ(doc["records"][0]["enrolled_at"], "2026-11-22T10:00:00Z");
    EXPECT_EQ(doc["records"][0]["caller_uid"], 0);
    EXPECT_EQ(doc["records"][1]["origin"], "drop-in");
    EXPECT_EQ(doc["records"][1]["enrolled_at"], "2030-02-28T23:59:59Z");
    EXPECT_EQ(doc["records"][2]["origin"], "sandbox");
    EXPECT_EQ(doc["sealed"], json({"ima", "evm"}));
    EXPECT_EQ(doc["pending"][0]["action"], "link");
    EXPECT_EQ(doc["pending"][1]["action"], "unlink");
    // A link intent carries its certificate, as a record does; an unlink
    // intent's certificate is in its record.
    EXPECT_EQ(doc["pending"][0]["der"], doc["records"][1]["der"]);
    EXPECT_FALSE(doc["pending"][1].contains("der"));

    // The store is private: the directory 0700 (created), the file 0600.
    struct stat st {};
    ASSERT_EQ(::stat(store.dir().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    ASSERT_EQ(::stat(store.file().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat(store.journal_file().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(dir_entries(store.dir()), (std::vector<std::string>{"state.journal", "state.json"}));
    // The journal continues this snapshot, and holds no change yet.
    EXPECT_EQ(json::parse(read_bytes(store.journal_file())),
              json({{"journal", 1}, {"snapshot_id", doc["snapshot_id"]}}));
}

// Base64 padding: DER lengths of every residue mod 3 come back unchanged.
TEST_F(StateStoreTest, DerOfEveryLengthRoundTrips) {
    State s;
    for (std::uint8_t n = 1; n <= 7; ++n) {
        Bytes der(n);
        for (std::uint8_t i = 0; i < n; ++i) der[i] = static_cast<std::uint8_t>(0xf0 + i * 7 + n);
        s.records.push_back(make_record(der, kAllLogicalKeyrings[n % 6]));
    }
    StateStore store(root_);
    store.save(s);
    State back = store.load();
    ASSERT_EQ(back.records.size(), s.records.size());
    for (std::size_t i = 0; i < s.records.size(); ++i)
        EXPECT_EQ(back.records[i].der, s.records[i].der);
}

TEST_F(StateStoreTest, MissingFileIsAnEmptyStateAndCreatesNothing) {
    StateStore store(root_ / "absent");
    State s = store.load();
    EXPECT_EQ(s.version, State::kVersion);
    EXPECT_TRUE(s.records.empty());
    EXPECT_TRUE(s.sealed.empty());
    EXPECT_TRUE(s.pending.empty());
    EXPECT_FALSE(fs::exists(root_ / "absent"));
}

TEST_F(StateStoreTest, SaveReplacesThePreviousState) {
    auto a =
        testing::make_self_signed(testing::signing_spec("anchord replace"), testing::KeyType::P256);
    StateStore store(root_);
    State s;
    s.records.push_back(make_record(a.der, LogicalKeyring::Ima));
    store.save(s);
    s.records.clear();
    s.sealed.insert(LogicalKeyring::Ima);
    store.save(s);
    State back = store.load();
    EXPECT_TRUE(back.records.empty());
    EXPECT_EQ(back.sealed, std::set<LogicalKeyring>{LogicalKeyring::Ima});
    EXPECT_EQ(StateStore(root_).load(), s);
    EXPECT_EQ(dir_entries(root_), (std::vector<std::string>{"state.journal", "state.json"}));
}

// A drop-in path in Latin-1 cannot go into JSON as it is: the state still
// saves, with the bad bytes replaced, instead of failing every enrollment.
TEST_F(StateStoreTest, NonUtf8SourceStillSaves) {
    State s;
    s.records.push_back(make_record(Bytes{1, 2, 3}, LogicalKeyring::Ima, Origin::Dropin,
                                    "/etc/anchord/anchors.d/ima/caf\xe9.der"));
    StateStore store(root_);
    store.save(s);
    State back = store.load();
    ASSERT_EQ(back.records.size(), 1u);
    EXPECT_EQ(back.records[0].source, "/etc/anchord/anchors.d/ima/caf\xef\xbf\xbd.der");
    EXPECT_EQ(back.records[0].der, (Bytes{1, 2, 3}));
}

TEST(StateTest, FindEraseAndIntents) {
    Bytes d1{1, 2, 3}, d2{4, 5, 6};
    State s;
    s.records.push_back(make_record(d1, LogicalKeyring::Ima));
    s.records.push_back(make_record(d2, LogicalKeyring::Evm));
    ASSERT_NE(s.find(Fingerprint::of_der(d1), LogicalKeyring::Ima), nullptr);
    EXPECT_EQ(s.find(Fingerprint::of_der(d1), LogicalKeyring::Ima)->der, d1);
    EXPECT_EQ(s.find(Fingerprint::of_der(d1), LogicalKeyring::Evm), nullptr);
    EXPECT_TRUE(s.erase(Fingerprint::of_der(d1), LogicalKeyring::Ima));
    EXPECT_FALSE(s.erase(Fingerprint::of_der(d1), LogicalKeyring::Ima));
    EXPECT_EQ(s.find(Fingerprint::of_der(d1), LogicalKeyring::Ima), nullptr);

    Intent in{Fingerprint::of_der(d2), LogicalKeyring::Evm, IntentAction::Unlink};
    s.add_intent(in);
    s.add_intent(in);
    EXPECT_EQ(s.pending.size(), 1u);
    EXPECT_TRUE(s.clear_intent(in));
    EXPECT_FALSE(s.clear_intent(in));
    EXPECT_TRUE(s.pending.empty());

    // An intent is one operation whether or not it carries the certificate:
    // a second add fills in a missing DER, a clear without DER clears it.
    Intent bare{Fingerprint::of_der(d1), LogicalKeyring::Ima, IntentAction::Link};
    Intent full{Fingerprint::of_der(d1), LogicalKeyring::Ima, IntentAction::Link, d1};
    s.add_intent(bare);
    s.add_intent(full);
    ASSERT_EQ(s.pending.size(), 1u);
    EXPECT_EQ(s.pending[0].der, d1);
    s.add_intent({Fingerprint::of_der(d1), LogicalKeyring::Ima, IntentAction::Unlink});
    EXPECT_EQ(s.pending.size(), 2u) << "another action is another intent";
    EXPECT_TRUE(s.clear_intent(bare));
    ASSERT_EQ(s.pending.size(), 1u);
    EXPECT_EQ(s.pending[0].action, IntentAction::Unlink);
}

using anchord::testing::TmpfsMount;

// A save killed before its rename leaves a temporary file as large as the
// state: the next anchord's first save removes it, and nothing else, even
// when that save only appends to the journal.
TEST_F(StateStoreTest, TemporaryFilesOfAnInterruptedSaveAreRemovedByTheNextSave) {
    State s;
    s.records.push_back(make_record(Bytes{1, 2, 3}, LogicalKeyring::Ima));
    StateStore(root_).save(s);
    const std::string snapshot = read_bytes(root_ / "state.json");
    write_bytes(root_ / ".state.json.Ab12Cd", "{\"version\": 2, \"rec");
    write_bytes(root_ / ".state.journal.x1Y2z3", "{\"journal\": 1, \"snap");
    write_bytes(root_ / ".state.json.keep", "not ours: another name");
    write_bytes(root_ / "notes.txt", "an admin's");

    StateStore store(root_);
    ASSERT_EQ(store.load(), s);
    s.sealed.insert(LogicalKeyring::Ima);
    store.save(s);
    EXPECT_EQ(read_bytes(root_ / "state.json"), snapshot) << "the save was an append";
    EXPECT_EQ(dir_entries(root_), (std::vector<std::string>{".state.json.keep", "notes.txt",
                                                            "state.journal", "state.json"}));
    EXPECT_EQ(StateStore(root_).load(), s);
}

// A full disk mid-write: StateError naming the cause, the old file byte for
// byte, and no temporary file left behind.
TEST_F(StateStoreTest, FullDiskLeavesTheOldFileIntact) {
    TmpfsMount tmpfs(root_ / "small", "size=64k,mode=0700");
    if (!tmpfs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (" << tmpfs.error() << ")";

    auto a =
        testing::make_self_signed(testing::signing_spec("anchord small"), testing::KeyType::P256);
    StateStore store(root_ / "small");
    State small;
    small.records.push_back(make_record(a.der, LogicalKeyring::Ima));
    store.save(small);
    std::string before = read_bytes(store.file());
    std::string journal_before = read_bytes(store.journal_file());
    ASSERT_FALSE(before.empty());

    // ~200 KiB of base64: more than the 64 KiB the tmpfs holds.
    State big;
    for (int i = 0; i < 100; ++i) {
        Bytes der(1500, static_cast<std::uint8_t>(i));
        der[0] = 0x30;
        der[1] = static_cast<std::uint8_t>(i);
        big.records.push_back(make_record(der, LogicalKeyring::Evm));
    }
    try {
        store.save(big);
        FAIL() << "save() on a full tmpfs succeeded";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::StateError);
        // The cause is named (strerror(ENOSPC)).
        EXPECT_NE(std::string(e.what()).find(std::strerror(ENOSPC)), std::string::npos) << e.what();
    }
    EXPECT_EQ(read_bytes(store.file()), before);
    EXPECT_EQ(read_bytes(store.journal_file()), journal_before) << "the cut line is gone";
    EXPECT_EQ(dir_entries(store.dir()), (std::vector<std::string>{"state.journal", "state.json"}));
    EXPECT_EQ(StateStore(store.dir()).load(), small);

    // The same through a whole new snapshot (a store that has read nothing
    // writes the whole state): its temporary file is removed again.
    StateStore fresh(store.dir());
    EXPECT_THROW(fresh.save(big), Error);
    EXPECT_EQ(read_bytes(store.file()), before);
    EXPECT_EQ(read_bytes(store.journal_file()), journal_before);
    EXPECT_EQ(dir_entries(store.dir()), (std::vector<std::string>{"state.journal", "state.json"}));
    EXPECT_EQ(StateStore(store.dir()).load(), small);

    // With room again, the store goes on: the failed append was forgotten.
    store.save(small);
    EXPECT_EQ(StateStore(store.dir()).load(), small);
}

// ---------------------------------------------------------------------------
// Damaged files: each one gives StateError and is left exactly as it was.

json valid_record() {
    Bytes der{0x30, 0x03, 0x02, 0x01, 0x01};
    return {
        {"fingerprint", Fingerprint::of_der(der).to_string()},
        {"keyring", "ima"},
        {"der", "MAMCAQE="},  // base64 of `der`
        {"origin", "api"},
        {"source", ""},
        {"enrolled_at", "2026-11-22T10:00:00Z"},
        {"caller_uid", 0},
    };
}

json valid_doc() {
    return {{"version", 1},
            {"records", json::array({valid_record()})},
            {"sealed", json::array({"ima"})},
            {"pending", json::array()}};
}

struct Damage {
    std::string name;
    std::string text;
    std::string pointer;  // the JSON pointer the message must name ("" for none)
};

std::string with(const std::string& pointer, const json& value) {
    json doc = valid_doc();
    doc[json::json_pointer(pointer)] = value;
    return doc.dump();
}

std::string without(const std::string& parent, const std::string& key) {
    json doc = valid_doc();
    if (parent.empty()) {
        doc.erase(key);
    } else {
        doc[json::json_pointer(parent)].erase(key);
    }
    return doc.dump();
}

// A version 2 file whose one link intent carries `der`, for the record's
// fingerprint.
std::string version2_with_intent_der(const json& der) {
    json doc = valid_doc();
    doc["version"] = 2;
    doc["pending"] = json::array({{{"fingerprint", valid_record()["fingerprint"]},
                                   {"keyring", "ima"},
                                   {"action", "link"},
                                   {"der", der}}});
    return doc.dump();
}

std::vector<Damage> damages() {
    json duplicate = valid_doc();
    duplicate["records"].push_back(valid_record());
    return {
        {"empty file", "", ""},
        {"truncated JSON", valid_doc().dump().substr(0, 40), ""},
        {"binary garbage", std::string("\x00\xff\x13\x37garbage", 11), ""},
        {"top level array", "[]", ""},
        {"missing version", without("", "version"), ""},
        {"version as string", with("/version", "1"), "/version"},
        {"version fractional", with("/version", 1.5), "/version"},
        {"missing records", without("", "records"), ""},
        {"records not array", with("/records", json::object()), "/records"},
        {"record not object", with("/records/0", "x"), "/records/0"},
        {"missing fingerprint", without("/records/0", "fingerprint"), "/records/0"},
        {"fingerprint number", with("/records/0/fingerprint", 7), "/records/0/fingerprint"},
        {"fingerprint not hex", with("/records/0/fingerprint", "sha256:zz"),
         "/records/0/fingerprint"},
        {"fingerprint without prefix",
         with("/records/0/fingerprint",
              Fingerprint::of_der(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}).digest.hex()),
         "/records/0/fingerprint"},
        {"unknown keyring", with("/records/0/keyring", "trusted"), "/records/0/keyring"},
        {"der not base64", with("/records/0/der", "M@MCAQE="), "/records/0/der"},
        {"der bad length", with("/records/0/der", "MAMCAQE"), "/records/0/der"},
        {"der padding inside", with("/records/0/der", "MA=CAQE="), "/records/0/der"},
        {"der non-canonical padding", with("/records/0/der", "MAMCAQF="), "/records/0/der"},
        {"der with whitespace", with("/records/0/der", "MAMC AQE="), "/records/0/der"},
        {"der empty", with("/records/0/der", ""), "/records/0/der"},
        {"unknown origin", with("/records/0/origin", "dropin"), "/records/0/origin"},
        {"source number", with("/records/0/source", 1), "/records/0/source"},
        {"enrolled_at words", with("/records/0/enrolled_at", "yesterday"),
         "/records/0/enrolled_at"},
        {"enrolled_at month 13", with("/records/0/enrolled_at", "2026-13-01T00:00:00Z"),
         "/records/0/enrolled_at"},
        {"enrolled_at 30 February", with("/records/0/enrolled_at", "2026-02-30T00:00:00Z"),
         "/records/0/enrolled_at"},
        {"enrolled_at no zone", with("/records/0/enrolled_at", "2026-11-22T10:00:00"),
         "/records/0/enrolled_at"},
        {"caller_uid negative", with("/records/0/caller_uid", -1), "/records/0/caller_uid"},
        {"caller_uid too large", with("/records/0/caller_uid", 4294967296ull),
         "/records/0/caller_uid"},
        {"caller_uid string", with("/records/0/caller_uid", "0"), "/records/0/caller_uid"},
        {"duplicate record", duplicate.dump(), "/records/1"},
        {"sealed not array", with("/sealed", "ima"), "/sealed"},
        {"sealed unknown keyring", with("/sealed/0", "nope"), "/sealed/0"},
        {"pending bad action",
         with("/pending/0", {{"fingerprint", valid_record()["fingerprint"]},
                             {"keyring", "ima"},
                             {"action", "relink"}}),
         "/pending/0/action"},
        {"pending missing keyring",
         with("/pending/0", {{"fingerprint", valid_record()["fingerprint"]}, {"action", "link"}}),
         "/pending/0"},
        {"pending der in version 1",
         with("/pending/0", {{"fingerprint", valid_record()["fingerprint"]},
                             {"keyring", "ima"},
                             {"action", "link"},
                             {"der", "MAMCAQE="}}),
         "/pending/0/der"},
        {"pending der not base64", version2_with_intent_der("MAMCAQE"), "/pending/0/der"},
        {"pending der empty", version2_with_intent_der(""), "/pending/0/der"},
        {"pending der of another certificate", version2_with_intent_der("MAMCAQI="),
         "/pending/0/der"},
        {"pending der not a string", version2_with_intent_der(json::array()), "/pending/0/der"},
    };
}

TEST_F(StateStoreTest, TheValidBaselineLoads) {
    // Guards the damage table: each case differs from this in one place only.
    StateStore store(root_);
    write_bytes(store.file(), valid_doc().dump());
    State s = store.load();
    ASSERT_EQ(s.records.size(), 1u);
    EXPECT_EQ(s.records[0].der, (Bytes{0x30, 0x03, 0x02, 0x01, 0x01}));
}

TEST_F(StateStoreTest, EveryDamagedFileIsAStateErrorAndLeftUntouched) {
    StateStore store(root_);
    for (const auto& d : damages()) {
        SCOPED_TRACE(d.name);
        write_bytes(store.file(), d.text);
        try {
            (void)store.load();
            ADD_FAILURE() << "loaded a damaged file: " << d.name;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::StateError);
            std::string msg = e.what();
            // The message names the file and, where there is one, the bad value.
            EXPECT_NE(msg.find(store.file().string()), std::string::npos) << msg;
            if (!d.pointer.empty()) {
                EXPECT_NE(msg.find(d.pointer), std::string::npos) << msg;
            }
        }
        EXPECT_EQ(read_bytes(store.file()), d.text);
        EXPECT_EQ(dir_entries(root_), std::vector<std::string>{"state.json"});
    }
}

TEST_F(StateStoreTest, UnknownVersionIsRefused) {
    StateStore store(root_);
    for (int version : {0, State::kVersion + 1}) {
        SCOPED_TRACE(version);
        json doc = valid_doc();
        doc["version"] = version;
        std::string text = doc.dump();
        write_bytes(store.file(), text);
        try {
            (void)store.load();
            ADD_FAILURE() << "loaded version " << version;
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::StateError);
            EXPECT_NE(std::string(e.what()).find("/version"), std::string::npos) << e.what();
        }
        EXPECT_EQ(read_bytes(store.file()), text);
    }
}

// A version 1 file, written before intents carried their certificate,
// loads as the current version and is written back as version 3.
TEST_F(StateStoreTest, Version1FileLoadsAndIsWrittenBackAsTheCurrentVersion) {
    StateStore store(root_);
    json doc = valid_doc();
    ASSERT_EQ(doc["version"], 1);
    doc["pending"] = json::array(
        {{{"fingerprint", valid_record()["fingerprint"]}, {"keyring", "ima"}, {"action", "link"}}});
    write_bytes(store.file(), doc.dump());

    State s = store.load();
    EXPECT_EQ(s.version, State::kVersion);
    ASSERT_EQ(s.records.size(), 1u);
    ASSERT_EQ(s.pending.size(), 1u);
    EXPECT_EQ(s.pending[0].action, IntentAction::Link);
    EXPECT_TRUE(s.pending[0].der.empty());

    store.save(s);
    json again = json::parse(read_bytes(store.file()));
    EXPECT_EQ(again["version"], State::kVersion);
    EXPECT_FALSE(again["pending"][0].contains("der"));
    State back = store.load();
    EXPECT_EQ(back.pending, s.pending);
    EXPECT_EQ(back.records[0].der, s.records[0].der);
}

// A version 2 intent's DER comes back, and is what its fingerprint says.
TEST_F(StateStoreTest, Version2IntentCarriesItsCertificate) {
    StateStore store(root_);
    write_bytes(store.file(), version2_with_intent_der("MAMCAQE="));
    State s = store.load();
    ASSERT_EQ(s.pending.size(), 1u);
    EXPECT_EQ(s.pending[0].der, (Bytes{0x30, 0x03, 0x02, 0x01, 0x01}));
    EXPECT_EQ(Fingerprint::of_der(s.pending[0].der), s.pending[0].fingerprint);
}

TEST_F(StateStoreTest, DerThatDoesNotMatchItsFingerprintIsRefused) {
    auto a =
        testing::make_self_signed(testing::signing_spec("anchord fp a"), testing::KeyType::P256);
    auto b =
        testing::make_self_signed(testing::signing_spec("anchord fp b"), testing::KeyType::P256);
    StateStore store(root_);
    State s;
    s.records.push_back(make_record(a.der, LogicalKeyring::Ima));
    store.save(s);

    // Swap in b's DER under a's fingerprint, as a bad edit or bit rot would.
    json doc = json::parse(read_bytes(store.file()));
    State only_b;
    only_b.records.push_back(make_record(b.der, LogicalKeyring::Ima));
    StateStore other(root_ / "other");
    other.save(only_b);
    doc["records"][0]["der"] = json::parse(read_bytes(other.file()))["records"][0]["der"];
    std::string text = doc.dump(2);
    write_bytes(store.file(), text);

    try {
        (void)store.load();
        FAIL() << "loaded a record whose DER does not match its fingerprint";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::StateError);
        EXPECT_NE(std::string(e.what()).find("/records/0/der"), std::string::npos) << e.what();
    }
    EXPECT_EQ(read_bytes(store.file()), text);
}

TEST_F(StateStoreTest, OversizedFileIsRefusedUnread) {
    StateStore store(root_);
    { std::ofstream out(store.file()); }
    // Sparse: no 64 MiB written to disk.
    fs::resize_file(store.file(), kMaxStateFileSize + 1);
    try {
        (void)store.load();
        FAIL() << "loaded a file over the size bound";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::StateError);
    }
    EXPECT_EQ(fs::file_size(store.file()), kMaxStateFileSize + 1);
}

TEST_F(StateStoreTest, StateFileThatIsADirectoryIsRefused) {
    StateStore store(root_);
    fs::create_directory(store.file());
    try {
        (void)store.load();
        FAIL() << "loaded a directory";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::StateError);
    }
    EXPECT_TRUE(fs::is_directory(store.file()));
}

TEST_F(StateStoreTest, SaveIntoAPathThatIsAFileFails) {
    // The state directory's place is taken by a file: a clear StateError.
    write_bytes(root_ / "taken", "x");
    StateStore store(root_ / "taken");
    try {
        store.save(State{});
        FAIL() << "saved into a file";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::StateError);
    }
    EXPECT_EQ(read_bytes(root_ / "taken"), "x");
}

// ---------------------------------------------------------------------------
// The journal

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

std::size_t lines_of(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The journal: a save after the first appends one line of what changed;
// the snapshot is written anew only when the journal outgrows it. Every case
// reads back through a new store, as the next anchord would.
class StateJournalTest : public StateStoreTest {
  protected:
    State reload() const { return StateStore(root_).load(); }
    fs::path snapshot() const { return root_ / "state.json"; }
    fs::path journal() const { return root_ / "state.journal"; }

    // Applies each change to `s` and saves it through `store`, whose
    // journal holds its header alone: each save must be one more line, the
    // snapshot must stay as it was, a new store must read back `s`, and
    // saving `s` again must write nothing (the store knows what it wrote).
    void expect_one_line_each(StateStore& store, State& s,
                              const std::vector<std::function<void(State&)>>& changes) {
        const std::string first_snapshot = read_bytes(snapshot());
        ASSERT_EQ(lines_of(read_bytes(journal())), 1u) << "the header alone";
        std::size_t lines = 1;
        for (std::size_t i = 0; i < changes.size(); ++i) {
            SCOPED_TRACE("change " + std::to_string(i));
            changes[i](s);
            store.save(s);
            ASSERT_EQ(read_bytes(snapshot()), first_snapshot) << "the whole state was written";
            ASSERT_EQ(lines_of(read_bytes(journal())), ++lines);
            ASSERT_EQ(reload(), s);
            const std::string journal_text = read_bytes(journal());
            store.save(s);
            ASSERT_EQ(read_bytes(journal()), journal_text) << "saving it again wrote a line";
        }
    }
};

// Every kind of change is one appended line, the snapshot stays as it was,
// and a new store reads back exactly the state saved, records in order.
TEST_F(StateJournalTest, EverySaveAfterTheFirstIsOneLineAndReadsBackEqual) {
    StateStore store(root_);
    State s;
    s.records = {record_of(1), record_of(2, LogicalKeyring::Evm), record_of(3)};
    store.save(s);

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
    expect_one_line_each(store, s, changes);
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

// One store saving many times, as anchord does between two starts: after
// adds, forgets in the middle and records changed in place, each save is
// still the one line that turns the files into the state saved.
TEST_F(StateJournalTest, ALongRunOfSavesThroughOneStoreStaysOneLineEach) {
    const auto ima = LogicalKeyring::Ima;
    const auto evm = LogicalKeyring::Evm;
    auto forget = [](State& x, int n, LogicalKeyring keyring = LogicalKeyring::Ima) {
        ASSERT_TRUE(x.erase(Fingerprint::of_der(der_of(n)), keyring)) << n;
    };
    auto record = [](State& x, int n, LogicalKeyring keyring = LogicalKeyring::Ima) -> Record& {
        auto it = std::find_if(x.records.begin(), x.records.end(), [&](const Record& r) {
            return r.fingerprint == Fingerprint::of_der(der_of(n)) && r.keyring == keyring;
        });
        if (it == x.records.end()) throw std::logic_error("no record " + std::to_string(n));
        return *it;
    };
    auto intent = [](int n, IntentAction action, LogicalKeyring keyring = LogicalKeyring::Ima) {
        return Intent{Fingerprint::of_der(der_of(n)), keyring, action, der_of(n)};
    };

    StateStore store(root_);
    State s;
    for (int i = 0; i < 8; ++i) s.records.push_back(record_of(i));
    store.save(s);

    const std::vector<std::function<void(State&)>> changes{
        [&](State& x) { x.records.push_back(record_of(8)); },
        [&](State& x) {
            x.records.push_back(record_of(9));
            x.records.push_back(record_of(10));
        },
        [&](State& x) { forget(x, 3); },  // in the middle: the records after it move up
        [&](State& x) {                   // one of those, changed in place
            record(x, 5).origin = Origin::Api;
            record(x, 5).source = "";
        },
        [&](State& x) {
            record(x, 9).enrolled_at += 1h;
            record(x, 9).caller_uid = 4242;
        },
        [&](State& x) { x.records.push_back(record_of(11)); },
        [&](State& x) { x.sealed.insert(ima); },
        [&](State& x) { x.add_intent(intent(12, IntentAction::Link)); },
        [&](State& x) {  // enrolled
            x.records.push_back(record_of(12));
            x.clear_intent(intent(12, IntentAction::Link));
        },
        [&](State& x) { x.add_intent(intent(6, IntentAction::Unlink)); },
        [&](State& x) {  // removed
            forget(x, 6);
            x.clear_intent(intent(6, IntentAction::Unlink));
        },
        [&](State& x) {  // the first and the last at once
            forget(x, 0);
            forget(x, 12);
        },
        [&](State& x) { x.records.push_back(record_of(12)); },      // forgotten just before
        [&](State& x) { x.records.push_back(record_of(3)); },       // forgotten long before
        [&](State& x) { x.records.push_back(record_of(4, evm)); },  // a second keyring
        [&](State& x) {
            record(x, 7).source = "/etc/anchord/anchors.d/ima/seven.der";
            x.records.push_back(record_of(13));
        },
        [&](State& x) { forget(x, 4, ima); },  // the evm one stays
        [&](State& x) { record(x, 4, evm).origin = Origin::Sandbox; },
        [&](State& x) {
            x.sealed.insert(evm);
            x.sealed.erase(ima);
        },
        [&](State& x) {  // two side by side, and one new
            forget(x, 1);
            forget(x, 2);
            x.records.push_back(record_of(14));
        },
        [&](State& x) {
            for (int i = 15; i < 20; ++i) x.records.push_back(record_of(i));
        },
        [&](State& x) { record(x, 19).caller_uid = 7; },
        [&](State& x) {
            forget(x, 8);
            forget(x, 9);
            forget(x, 10);
            record(x, 11).origin = Origin::Api;
            x.add_intent(intent(20, IntentAction::Link));
        },
        [&](State& x) {
            x.records.push_back(record_of(20));
            x.pending.clear();
            x.sealed.clear();
        },
        [&](State& x) { record(x, 20).source = "again"; },
    };
    expect_one_line_each(store, s, changes);
    if (HasFatalFailure()) return;

    StateStore fresh(root_);
    EXPECT_EQ(fresh.load(), s);
    EXPECT_EQ(lines_of(read_bytes(journal())), changes.size() + 1) << "one line per save";
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
