#include "manager/batch.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>

namespace anchord::manager {

bool run_batch(std::size_t count, bool streaming, const BatchSteps& steps, BatchParts parts) {
    struct Progress {
        std::mutex mutex;
        std::condition_variable moved;
        std::size_t ready = 0;  // positions [0, ready) are judged, their parts closed
        bool stopped = false;   // judge stopped the batch
        bool done = false;      // the judging has ended: all judged, stopped, or threw
    } progress;
    std::atomic<bool> stop{false};  // the acting failed: judge no further

    auto judging = [&] {
        struct Ended {
            Progress& p;
            ~Ended() {
                {
                    std::lock_guard lock(p.mutex);
                    p.done = true;
                }
                p.moved.notify_one();
            }
        } ended{progress};
        std::size_t part_size = streaming ? parts.first : count;
        std::size_t begin = 0;
        for (std::size_t i = 0; i < count && !stop; ++i) {
            if (!steps.judge(i)) {
                std::lock_guard lock(progress.mutex);
                progress.stopped = true;
                return;
            }
            if (i + 1 < begin + part_size && i + 1 < count) continue;
            steps.close_part(begin, i + 1);
            begin = i + 1;
            part_size = std::min(2 * part_size, parts.largest);
            {
                std::lock_guard lock(progress.mutex);
                progress.ready = i + 1;
            }
            progress.moved.notify_one();
        }
    };

    std::future<void> thread;
    bool stopped = false;
    try {
        if (streaming) {
            thread = std::async(std::launch::async, judging);
        } else {
            judging();
        }
        for (std::size_t at = 0;;) {
            std::size_t ready = 0;
            bool done = false;
            {
                std::unique_lock lock(progress.mutex);
                progress.moved.wait(lock, [&] { return progress.ready > at || progress.done; });
                ready = progress.ready;
                done = progress.done;
                stopped = progress.stopped;
            }
            // A stopped batch is undone: what is ready is not linked first.
            if (stopped) break;
            for (; at < ready; ++at) steps.act(at);
            if (done) break;
        }
        if (thread.valid()) thread.get();  // rethrows what the judging threw
    } catch (...) {
        stop = true;
        if (thread.valid()) thread.wait();
        throw;
    }
    return !stopped;
}

}  // namespace anchord::manager
