// Fuzzes the state loader (StateStore::load over dir/state.json and
// dir/state.journal): any bytes either load or are refused with
// Error(StateError); a state that loads is saved and loaded again unchanged,
// because a state anchord wrote and cannot read back would stop it from
// starting, and so is the same state changed by one journal line.
//
// An input holding the line "#journal" is split there: what comes before
// is state.json, what comes after state.journal.
//
// The store reads only from a file, so each input is written to a scratch
// directory (on /dev/shm when there is one: no disk I/O per run).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "anchord/error.hpp"
#include "state/state_store.hpp"

namespace {

namespace fs = std::filesystem;
using namespace anchord;

void expect(bool ok, const char* promise) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_state: broken promise: %s\n", promise);
        std::abort();
    }
}

struct Scratch {
    fs::path root;
    fs::path input;   // the fuzz input is state.json here
    fs::path output;  // what save() writes

    Scratch() {
        std::error_code ec;
        fs::path base =
            fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
        std::string tmpl = (base / "anchord-fuzz-state.XXXXXX").string();
        expect(::mkdtemp(tmpl.data()) != nullptr, "a scratch directory can be made");
        root = tmpl;
        input = root / "in";
        output = root / "out";
        fs::create_directory(input);
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
};

Scratch& scratch() {
    static Scratch s;
    return s;
}

bool same_records(const state::State& a, const state::State& b) {
    if (a.records.size() != b.records.size()) return false;
    for (std::size_t i = 0; i < a.records.size(); ++i) {
        const auto& x = a.records[i];
        const auto& y = b.records[i];
        if (x.fingerprint != y.fingerprint || x.keyring != y.keyring || x.der != y.der ||
            x.origin != y.origin || x.source != y.source || x.enrolled_at != y.enrolled_at ||
            x.caller_uid != y.caller_uid) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Scratch& s = scratch();
    {
        const std::string_view input(reinterpret_cast<const char*>(data), size);
        constexpr std::string_view kSplit = "\n#journal\n";
        const auto split = input.find(kSplit);
        auto write = [&](const char* name, std::string_view text) {
            std::ofstream out(s.input / name, std::ios::binary | std::ios::trunc);
            out.write(text.data(), static_cast<std::streamsize>(text.size()));
            expect(out.good(), "the input can be written to the scratch directory");
        };
        write("state.json", input.substr(0, split));
        std::error_code ec;
        fs::remove(s.input / "state.journal", ec);
        if (split != std::string_view::npos)
            write("state.journal", input.substr(split + kSplit.size()));
    }

    state::State loaded;
    try {
        loaded = state::StateStore(s.input).load();
    } catch (const Error& e) {
        expect(e.code() == ErrorCode::StateError, "load throws only StateError");
        return 0;
    }
    expect(loaded.version == state::State::kVersion, "a loaded state has the current version");
    for (const auto& r : loaded.records) {
        expect(r.fingerprint == Fingerprint::of_der(r.der),
               "a loaded record's fingerprint is its DER's SHA-256");
    }

    state::StateStore out(s.output);
    try {
        out.save(loaded);
    } catch (const Error& e) {
        std::fprintf(stderr, "fuzz_state: a loaded state cannot be saved: %s\n", e.what());
        std::abort();
    }
    state::State again;
    try {
        again = out.load();
    } catch (const Error& e) {
        std::fprintf(stderr, "fuzz_state: a saved state does not load: %s\n", e.what());
        std::abort();
    }
    expect(same_records(loaded, again), "save then load: same records");
    expect(again.sealed == loaded.sealed, "save then load: same sealed keyrings");
    expect(again.pending == loaded.pending, "save then load: same intents");

    // One change more, which the store appends to its journal.
    state::State changed = again;
    if (!changed.records.empty()) changed.records.erase(changed.records.begin());
    changed.sealed.insert(LogicalKeyring::Evm);
    changed.pending.clear();
    try {
        out.save(changed);
        again = state::StateStore(s.output).load();
    } catch (const Error& e) {
        std::fprintf(stderr, "fuzz_state: a journalled change does not load: %s\n", e.what());
        std::abort();
    }
    expect(again == changed, "save, change, save, load: the changed state");
    std::error_code ec;
    fs::remove_all(s.output, ec);
    return 0;
}
