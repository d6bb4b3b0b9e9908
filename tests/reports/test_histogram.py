from reports.histogram import BOUNDS, bucket_of, hist_from, hist_merge, hist_percentile


def test_durations_under_a_minute_are_exact_and_longer_ones_fall_to_their_step():
    assert BOUNDS[bucket_of(0)] == 0
    assert BOUNDS[bucket_of(59)] == 59
    assert BOUNDS[bucket_of(61)] == 60
    assert BOUNDS[bucket_of(605)] == 600
    assert BOUNDS[bucket_of(3599)] == 3540
    assert BOUNDS[bucket_of(89999)] == 86400
    assert BOUNDS[bucket_of(30 * 86400)] == 7 * 86400
    assert bucket_of(-5) == 0


def test_median_and_p90_of_summed_hours_are_those_of_all_values():
    first = hist_from([60, 120, 180])
    second = hist_from([240, 300, 360, 420, 480, 540, 600])
    both = hist_merge([first, second])
    assert hist_percentile(both, 0.5) == 300
    assert hist_percentile(both, 0.9) == 540
    assert hist_percentile({}, 0.5) is None
    assert hist_percentile(hist_from([7]), 0.9) == 7
