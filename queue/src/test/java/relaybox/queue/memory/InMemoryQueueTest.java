package relaybox.queue.memory;

import relaybox.queue.MutableClock;
import relaybox.queue.Queue;
import relaybox.queue.QueueContract;
import relaybox.queue.RetrySchedule;

class InMemoryQueueTest implements QueueContract {
    @Override
    public Queue create(MutableClock clock) {
        return new InMemoryQueue(clock, RetrySchedule.DEFAULT);
    }
}
