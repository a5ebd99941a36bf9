// How an enrollment walks a bundle (manager/batch.hpp): judged in order,
// acted on in order once a part is closed, the acting under way while the
// judging goes on, and every failure rethrown only once the judging ended.
#include "manager/batch.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace anchord::manager {
namespace {

// What the steps saw, in the order they saw it, from both threads.
class Trace {
  public:
    void add(std::string what) {
        std::lock_guard lock(mutex_);
        events_.push_back(std::move(what));
    }
    std::vector<std::string> events() const {
        std::lock_guard lock(mutex_);
        return events_;
    }
    // Position of `what` in the trace; -1 when it is not there.
    long at(const std::string& what) const {
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < events_.size(); ++i)
            if (events_[i] == what) return static_cast<long>(i);
        return -1;
    }
    std::size_t count_prefix(const std::string& prefix) const {
        std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& e : events_) n += e.rfind(prefix, 0) == 0 ? 1 : 0;
        return n;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<std::string> events_;
};

std::string judged(std::size_t i) {
    return "judge " + std::to_string(i);
}
std::string closed(std::size_t begin, std::size_t end) {
    return "close " + std::to_string(begin) + "-" + std::to_string(end);
}
std::string acted(std::size_t i) {
    return "act " + std::to_string(i);
}

BatchSteps traced(Trace& trace) {
    BatchSteps steps;
    steps.judge = [&trace](std::size_t i) {
        trace.add(judged(i));
        return true;
    };
    steps.close_part = [&trace](std::size_t b, std::size_t e) { trace.add(closed(b, e)); };
    steps.act = [&trace](std::size_t i) { trace.add(acted(i)); };
    return steps;
}

// A flag one thread raises and another waits for, with a bound so that a
// broken batch fails the test instead of hanging it.
class Signal {
  public:
    void raise() {
        {
            std::lock_guard lock(mutex_);
            raised_ = true;
        }
        cv_.notify_all();
    }
    bool wait() {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return raised_; });
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool raised_ = false;
};

TEST(BatchTest, AStreamedBatchClosesPartsOfGrowingSizeAndActsOnEachPositionAfterItsPart) {
    Trace trace;
    ASSERT_TRUE(run_batch(100, true, traced(trace), BatchParts{8, 32}));

    const std::vector<std::pair<std::size_t, std::size_t>> parts{
        {0, 8}, {8, 24}, {24, 56}, {56, 88}, {88, 100}};
    EXPECT_EQ(trace.count_prefix("close "), parts.size());
    for (const auto& [b, e] : parts) {
        const long close_at = trace.at(closed(b, e));
        ASSERT_GE(close_at, 0) << closed(b, e);
        for (std::size_t i = b; i < e; ++i) {
            EXPECT_LT(trace.at(judged(i)), close_at) << judged(i) << " after its part closed";
            EXPECT_GT(trace.at(acted(i)), close_at) << acted(i) << " before its part closed";
        }
    }
    for (std::size_t i = 1; i < 100; ++i) {
        EXPECT_LT(trace.at(judged(i - 1)), trace.at(judged(i))) << "judged out of order";
        EXPECT_LT(trace.at(acted(i - 1)), trace.at(acted(i))) << "acted out of order";
    }
}

TEST(BatchTest, UnstreamedEverythingIsJudgedAsOnePartBeforeTheFirstAct) {
    Trace trace;
    ASSERT_TRUE(run_batch(40, false, traced(trace)));
    EXPECT_EQ(trace.count_prefix("close "), 1u);
    const long close_at = trace.at(closed(0, 40));
    ASSERT_GE(close_at, 0);
    EXPECT_EQ(close_at, 40) << "every judgement, then the one close";
    EXPECT_GT(trace.at(acted(0)), close_at);
    EXPECT_EQ(trace.count_prefix("act "), 40u);
}

// The acting does not wait for the judging to finish: position 50 is not
// judged until position 0 was acted on.
TEST(BatchTest, AStreamedBatchActsWhileTheJudgingGoesOn) {
    Trace trace;
    Signal first_acted;
    auto steps = traced(trace);
    steps.judge = [&](std::size_t i) {
        if (i == 50) {
            EXPECT_TRUE(first_acted.wait()) << "nothing was acted on while judging";
        }
        trace.add(judged(i));
        return true;
    };
    steps.act = [&](std::size_t i) {
        trace.add(acted(i));
        if (i == 0) first_acted.raise();
    };
    ASSERT_TRUE(run_batch(100, true, steps));
    EXPECT_LT(trace.at(acted(0)), trace.at(judged(50)));
    EXPECT_EQ(trace.count_prefix("act "), 100u);
}

// A refusal stops the batch: nothing after it is judged, the part it is in
// is never closed, and what was ready is not acted on any further.
TEST(BatchTest, AJudgeThatStopsTheBatchEndsItBeforeItsPartCloses) {
    for (bool streaming : {true, false}) {
        SCOPED_TRACE(streaming ? "streamed" : "unstreamed");
        Trace trace;
        auto steps = traced(trace);
        steps.judge = [&](std::size_t i) {
            trace.add(judged(i));
            return i != 20;
        };
        EXPECT_FALSE(run_batch(100, streaming, steps, BatchParts{8, 32}));
        EXPECT_EQ(trace.count_prefix("judge "), 21u);
        EXPECT_LT(trace.at(closed(8, 24)), 0) << "the refused position's part was closed";
        for (std::size_t i = 8; i < 100; ++i) EXPECT_LT(trace.at(acted(i)), 0) << acted(i);
        if (!streaming) {
            EXPECT_EQ(trace.count_prefix("act "), 0u);
        }
    }
}

// A failed act (the kernel refused a link) is rethrown, and only after the
// judging thread has stopped: once run_batch is left nothing judges any
// more, so the caller may undo and return.
TEST(BatchTest, AFailedActIsRethrownOnceTheJudgingHasStopped) {
    Trace trace;
    Signal act_failed;
    std::mutex mutex;
    bool left = false;
    bool judged_after_leaving = false;
    auto steps = traced(trace);
    // Past position 40, which waits for the failure, each judgement takes a
    // millisecond: the judging cannot reach the end of the 1,000 positions
    // unless it missed the stop.
    steps.judge = [&](std::size_t i) {
        if (i == 40) act_failed.wait();
        if (i > 40) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        {
            std::lock_guard lock(mutex);
            if (left) judged_after_leaving = true;
        }
        trace.add(judged(i));
        return true;
    };
    steps.act = [&](std::size_t i) {
        if (i == 3) {
            act_failed.raise();
            throw std::runtime_error("the kernel refused position 3");
        }
        trace.add(acted(i));
    };
    try {
        run_batch(1000, true, steps);
        FAIL() << "the failed act was not rethrown";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "the kernel refused position 3");
    }
    {
        std::lock_guard lock(mutex);
        left = true;
    }
    const auto judged_when_left = trace.count_prefix("judge ");
    EXPECT_LT(judged_when_left, 1000u) << "the judging went on to the end after the failure";
    EXPECT_EQ(trace.count_prefix("act "), 3u);
    // Nothing may judge once run_batch has returned: the thread has ended.
    EXPECT_EQ(trace.count_prefix("judge "), judged_when_left);
    std::lock_guard lock(mutex);
    EXPECT_FALSE(judged_after_leaving);
}

// A failure on the judging thread (a save of a part's intents) is rethrown
// on the calling thread; only positions of parts closed before it are
// acted on.
TEST(BatchTest, AFailedCloseIsRethrownAndItsPartIsNeverActedOn) {
    Trace trace;
    auto steps = traced(trace);
    steps.close_part = [&](std::size_t b, std::size_t e) {
        if (b == 8) throw std::runtime_error("the state cannot be saved");
        trace.add(closed(b, e));
    };
    try {
        run_batch(100, true, steps, BatchParts{8, 32});
        FAIL() << "the failed close was not rethrown";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "the state cannot be saved");
    }
    EXPECT_EQ(trace.count_prefix("judge "), 24u);
    for (std::size_t i = 8; i < 100; ++i) EXPECT_LT(trace.at(acted(i)), 0) << acted(i);
}

}  // namespace
}  // namespace anchord::manager
