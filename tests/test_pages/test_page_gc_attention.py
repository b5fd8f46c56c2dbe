import json

from page_helpers import by_label, chart_traces, no_exception


def test_attention_maps_and_statistics(page):
    at = page("4_gc_attention.py").run()
    no_exception(at)
    assert len(at.multiselect[0].value) == 2  # two example images by default
    by_label(at.selectbox, "Person detector").set_value("full")
    by_label(at.selectbox, "Input size").set_value((128, 96))
    at.button[0].click().run()
    no_exception(at)
    per_stage = at.dataframe[0].value
    assert list(per_stage["stage"]) == [1, 2, 3, 4] and list(per_stage["blocks"]) == [4, 4, 16, 12]
    assert ((per_stage["entropy_norm"] >= 0) & (per_stage["entropy_norm"] <= 1 + 1e-6)).all()
    maps, per_block, _ = chart_traces(at)
    assert len(maps) == 36  # one facet per GC block of hrgcnet-w32
    assert len({t["name"] for t in per_block}) == 2  # one line per image
    by_label(at.radio, "Statistic").set_value("support")
    by_label(at.radio, "Colour scale").set_value("shared")
    at.run()

    def colour_bar_title(at):
        return json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["coloraxis"]["colorbar"]["title"]["text"]

    assert colour_bar_title(at) == "log10(α × H·W)"
    at.toggle[0].set_value(True)
    at.run()
    no_exception(at)
    # the overlay shades the maps by the crop's brightness: the colour bar and caption must not claim α alone
    assert colour_bar_title(at) == "log10(α × H·W) + log10(brightness)"
    assert any("Overlay on" in c.value and "not α itself" in c.value for c in at.caption)
    by_label(at.radio, "Colour scale").set_value("per map")
    at.run()
    assert colour_bar_title(at) == "α / max α × brightness"


def test_the_untrained_warning_is_about_the_chosen_and_shown_models(page):
    from hrgcnet.analysis.common import INPUT_SIZES, default_input_index, untrained_message

    at = page("4_gc_attention.py").run()
    model = by_label(at.selectbox, "Model").value
    assert by_label(at.selectbox, "Input size").value == INPUT_SIZES[default_input_index(model)]
    assert bool(at.warning) == (untrained_message([model]) is not None)
    by_label(at.selectbox, "Model").set_value("hrgcnet-w48")
    at.run()
    assert untrained_message(["hrgcnet-w48"]) is None or "hrgcnet-w48" in at.warning[0].value
