package relaybox.relay.intake;

import org.apache.james.metrics.api.Metric;
import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.metrics.api.TimeMetric;
import org.reactivestreams.Publisher;

import java.time.Duration;

/** James's handlers want a MetricFactory; relaybox does not export James's timings. */
final class NoopMetricFactory implements MetricFactory {

    private static final Metric METRIC = new Metric() {
        @Override
        public void increment() {
        }

        @Override
        public void decrement() {
        }

        @Override
        public void add(int value) {
        }

        @Override
        public void remove(int value) {
        }

        @Override
        public long getCount() {
            return 0;
        }
    };

    private static final TimeMetric.ExecutionResult RESULT = new TimeMetric.ExecutionResult() {
        @Override
        public Duration elasped() {
            return Duration.ZERO;
        }

        @Override
        public TimeMetric.ExecutionResult logWhenExceedP99(Duration threshold) {
            return this;
        }
    };

    @Override
    public Metric generate(String name) {
        return METRIC;
    }

    @Override
    public TimeMetric timer(String name) {
        return new TimeMetric() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public ExecutionResult stopAndPublish() {
                return RESULT;
            }
        };
    }

    @Override
    public <T> Publisher<T> decoratePublisherWithTimerMetric(String name, Publisher<T> publisher) {
        return publisher;
    }

    @Override
    public <T> Publisher<T> decoratePublisherWithTimerMetricLogP99(String name, Publisher<T> publisher) {
        return publisher;
    }
}
