"""The speed benchmark keeps working (figures are not asserted: speed is measured, not tested)."""

from simulator.experiments.bench import end_to_end, main, obvious, standard_scenario


def test_the_obvious_model_cuts_the_same_batches_as_the_core():
    text, rate = obvious(3000)
    assert "same batches and finish times as simulate(): yes" in text and rate > 0


def test_end_to_end_times_a_fresh_batchsim_run():
    walls, peaks = end_to_end(standard_scenario(2000), repeat=1)
    assert len(walls) == len(peaks) == 1 and walls[0] > 0 and peaks[0] > 10


def test_in_process_report(capsys):
    main(["2000", "--repeat", "0", "--obvious-requests", "1000"])
    out = capsys.readouterr().out
    assert out.startswith("standard case: 2,000 requests") and "(c) the obvious" in out
