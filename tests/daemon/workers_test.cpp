// The workers give the heap's free memory back to the system once the
// changes pause (service/workers.hpp).
#include "service/workers.hpp"

#include <gtest/gtest.h>

#include <chrono>
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

TEST(Workers, TheHeapIsTrimmedOnceTheChangesPause) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer's allocator keeps freed memory in quarantine";
#endif
    Workers workers(1, 64, std::chrono::milliseconds(50));
    // A change that leaves 32 MiB free inside the heap: blocks below the
    // mmap threshold, each followed by a small one that stays, so that
    // freeing them gives nothing back by itself.
    std::vector<std::unique_ptr<char[]>> kept;
    std::promise<long> after_change;
    ASSERT_TRUE(workers.post(
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
        Lane::Change));
    const long high = after_change.get_future().get();
    ASSERT_GT(high, 32 * 1024) << "the change did not leave its memory in the heap";
    bool trimmed = false;
    for (int i = 0; i < 100 && !trimmed; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        trimmed = anonymous_kib() < high - 16 * 1024;
    }
    EXPECT_TRUE(trimmed) << "RssAnon stayed at " << anonymous_kib() << " KiB after a pause";
    workers.stop();
}

}  // namespace
}  // namespace anchord::service
