#include "service/workers.hpp"

#include <malloc.h>

#include <utility>

#include "journal/journal.hpp"

namespace anchord::service {
namespace {

constexpr std::size_t kWorthTrimming = 2 * 1024 * 1024;  // free bytes in the heap

}  // namespace

Workers::Workers(std::size_t threads, std::size_t max_queued,
                 std::chrono::milliseconds quiet_before_trim)
    : max_queued_(max_queued), quiet_before_trim_(quiet_before_trim) {
    threads_.reserve(2 * threads);
    for (std::size_t i = 0; i < threads; ++i) {
        threads_.emplace_back([this] { run(reads_); });
        threads_.emplace_back([this] { run(changes_); });
    }
}

Workers::~Workers() {
    stop();
}

bool Workers::post(std::function<void()> job, Lane lane) {
    {
        std::lock_guard lock(mutex_);
        auto& queue = lane == Lane::Read ? reads_ : changes_;
        if (stopping_ || queue.jobs.size() >= max_queued_) return false;
        queue.jobs.push_back(std::move(job));
    }
    // One condition for both lanes: wake them all, the right one takes it.
    wake_.notify_all();
    return true;
}

void Workers::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
}

void Workers::run(Queue& queue) {
    // A change may have read a bundle of a megabyte and parsed a thousand
    // certificates: that memory goes back to the system once the changes
    // pause, not after each one. Trimming after each (dozens of madvise
    // calls, then the pages faulted in again by the next change) was a
    // tenth of a one-file enrollment's CPU in a provisioning loop.
    bool trim_due = false;
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock lock(mutex_);
            auto ready = [&] { return stopping_ || !queue.jobs.empty(); };
            if (trim_due && !wake_.wait_for(lock, quiet_before_trim_, ready)) {
                trim_due = false;
                lock.unlock();
                if (::mallinfo2().fordblks > kWorthTrimming) ::malloc_trim(0);
                continue;
            }
            wake_.wait(lock, ready);
            if (queue.jobs.empty()) return;  // stopping, and nothing left to answer
            job = std::move(queue.jobs.front());
            queue.jobs.pop_front();
        }
        try {
            job();
        } catch (const std::exception& e) {
            // Jobs answer their own errors; this is a last resort.
            journal::log(LOG_ERR, std::string("a request failed unexpectedly: ") + e.what());
        } catch (...) {
            journal::log(LOG_ERR, "a request failed unexpectedly");
        }
        trim_due = &queue == &changes_;
    }
}

}  // namespace anchord::service
