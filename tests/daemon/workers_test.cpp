// The workers give the heap's free memory back to the system once the
// changes pause (service/workers.hpp).
#include "service/workers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace anchord::service {
namespace {

// RssAnon of this process, in KiB.
long anonymous_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("RssAnon:", 0) == 0) return std::stol(line.substr(8));
    }
    return -1;
}

// A change that leaves 32 MiB free inside the heap (blocks below the mmap
// threshold, each followed by a small one that stays, so that freeing them
// gives nothing back by itself), then a pause. Exits 0 and says "trimmed"
// when the resident set went down; else 1 with what it saw.
[[noreturn]] void change_then_pause() {
    Workers workers(1, 64, std::chrono::milliseconds(50));
    std::vector<std::unique_ptr<char[]>> kept;
    std::promise<long> after_change;
    if (!workers.post(
            [&] {
                std::vector<std::unique_ptr<char[]>> freed;
                for (int i = 0; i < 512; ++i) {
                    freed.push_back(std::make_unique<char[]>(64 * 1024));
                    std::memset(freed.back().get(), 1, 64 * 1024);
                    kept.push_back(std::make_unique<char[]>(64));
                }
                freed.clear();
                after_change.set_value(anonymous_kib());
            },
            Lane::Change)) {
        std::fprintf(stderr, "the change was not taken\n");
        std::exit(1);
    }
    const long high = after_change.get_future().get();
    if (high <= 32 * 1024) {
        std::fprintf(stderr, "the change did not leave its memory in the heap (%ld KiB)\n", high);
        std::exit(1);
    }
    bool trimmed = false;
    for (int i = 0; i < 100 && !trimmed; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        trimmed = anonymous_kib() < high - 16 * 1024;
    }
    workers.stop();
    if (!trimmed) {
        std::fprintf(stderr, "RssAnon stayed at %ld KiB after a pause\n", anonymous_kib());
        std::exit(1);
    }
    std::fprintf(stderr, "trimmed\n");
    std::exit(0);
}

TEST(Workers, TheHeapIsTrimmedOnceTheChangesPause) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer's allocator keeps freed memory in quarantine";
#endif
    // It measures its process's heap, which the tests run before it in the
    // same binary shape (arenas, the dynamic mmap threshold): it runs in a
    // process of its own, the test binary started again for it alone.
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    EXPECT_EXIT(change_then_pause(), ::testing::ExitedWithCode(0), "trimmed");
}

}  // namespace
}  // namespace anchord::service
