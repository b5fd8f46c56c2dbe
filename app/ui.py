"""Layout and event wiring of the Gradio app (no logic: every event calls a function of ``app.handlers``,
or of ``app.video`` for the Video tab).

Endpoints (``api_name``; callable with ``gradio_client``): ``/predict``, ``/redraw``, ``/compare``,
``/redraw_compare``, ``/heatmaps``, ``/attention``, ``/attribution``, ``/model_card``, ``/live``, ``/video``.
Events that run a network share one queue (``concurrency_id="inference"``); redraws have their own. A live
webcam stream is one long event: streams have their own slots (``"live"``) and share the network with
the other events by skipping frames while it is busy. A video is one long event too, with its own slot
(``"video"``): it takes the network frame by frame, so image requests run between its frames
(``app.video``).
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from hrgcnet.analysis.attribution import METHODS as ATTRIBUTION_METHODS
from hrgcnet.structures import KEYPOINT_NAMES

from . import handlers, state, streaming, video

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
EXAMPLES = ("three_people.jpg", "cameraman.jpg", "astronaut.jpg", "cat.jpg")
INFERENCE = "inference"
#: System fonts only: the page fetches no web font.
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"],
                       font_mono=["ui-monospace", "SFMono-Regular", "monospace"])
CSS = """
.banner {border: 1px solid #e0a800; background: #fff8e1; border-radius: 8px; padding: 4px 12px;}
.banner p {color: #5c4400;}
"""
INTRO = """# HRGCNet: human pose estimation with global context
HRNet whose bottlenecks carry **GCNet global-context blocks**. Upload a photo (or paste one, or take a
webcam snapshot), pick a model and a person detector, and press **Estimate poses**. Then compare with
plain HRNet on the same persons, look at the heatmaps, at the GC attention maps and at attributions.
"""
LIMITS = (f"Limits: uploads up to {state.MAX_UPLOAD_BYTES // 2**20} MB and {state.MAX_PIXELS / 1e6:.0f} megapixels; "
          f"the {state.MAX_PERSONS} persons with the highest box scores; a request is stopped at its first "
          f"check past {state.REQUEST_TIME_LIMIT_S:g} s (checks run between batches of {state.BATCH_PERSONS} persons); "
          f"results are kept {state.STATE_TTL_S / 60:g} min after the last 'Estimate poses' or 'Compare'; "
          f"attributions are cut to about {state.ATTRIBUTION_BUDGET_S:.0f} s; videos: the first "
          f"{state.VIDEO_MAX_FRAMES} frames at most, stopped at {state.VIDEO_TIME_LIMIT_S:g} s. "
          f"Boxes below a box score of {state.DETECTOR_MIN_SCORE} are never kept. "
          "Offline, the person detector is NanoDet-g (committed weights, person-box AP 0.41 on our COCO val split); "
          "online, 'automatic' uses YOLO.")


def build_demo() -> gr.Blocks:
    """The whole app as a ``gr.Blocks`` (not launched; see :func:`launch`)."""
    models = state.model_choices()
    first_model = models[0][1]
    with gr.Blocks(title="HRGCNet pose estimation", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        session = gr.State(None, time_to_live=state.STATE_TTL_S)
        pending_corner = gr.State(None)
        live_state = gr.State(None)

        gr.Markdown(INTRO)
        banner_text = state.untrained_banner()
        gr.Markdown(banner_text, visible=bool(banner_text), elem_classes=["banner"], elem_id="untrained-banner")

        with gr.Row():
            with gr.Column(scale=1):
                image = handlers.readable_uploads(gr.Image(
                    type="filepath", image_mode=None, sources=["upload", "clipboard", "webcam"],
                    label="Input image (upload, paste, webcam snapshot; click two corners to draw a box)",
                    elem_id="input-image", height=420))
                gr.Examples(examples=[[str(ASSETS_DIR / name)] for name in EXAMPLES if (ASSETS_DIR / name).is_file()],
                            inputs=[image], label="Examples (licences in assets/README.md)", cache_examples=False)
                model = gr.Dropdown(models, value=first_model, label="Model", elem_id="model")
                with gr.Accordion("Model card", open=True):
                    card = gr.Markdown(state.model_card(first_model), elem_id="model-card")
                with gr.Row():
                    input_size = gr.Radio(list(state.INPUT_SIZES), value=state.default_input_size(first_model),
                                          label="Input size (HxW)")
                    flip_test = gr.Checkbox(True, label="Flip test (twice the time)")
                detector = gr.Radio(list(state.DETECTORS), value=state.DEFAULT_DETECTOR, label="Person detector")
                boxes_text = gr.Textbox("", label="My boxes (x1, y1, x2, y2; one box per 4 numbers)",
                                        placeholder="e.g. 40, 20, 300, 500; 320, 30, 560, 480", lines=1)
                box_hint = gr.Markdown(handlers.BOX_HINT)
                run = gr.Button("Estimate poses", variant="primary", elem_id="run")
            with gr.Column(scale=1):
                overlay = gr.Image(label="Keypoints", type="numpy", interactive=False, elem_id="overlay",
                                   format="png", height=420)
                with gr.Row():
                    kpt_thr = gr.Slider(0.0, 1.0, value=0.3, step=0.01, label="Keypoint score threshold")
                    box_thr = gr.Slider(state.DETECTOR_MIN_SCORE, 1.0, value=state.BOX_THRESHOLD, step=0.01,
                                        label="Box score threshold (persons below are not drawn)")
                with gr.Row():
                    show_boxes = gr.Checkbox(True, label="Show boxes")
                    label = gr.Radio(list(handlers.LABELS), value="instance_score", label="Box labels")
                gr.HTML(handlers.legend_html(), elem_id="legend")
                timings = gr.Markdown(elem_id="timings")
                notes = gr.Markdown(elem_id="notes")
                persons = gr.Dataframe(headers=handlers.PERSON_COLUMNS, label="Persons", interactive=False,
                                       elem_id="persons")
                with gr.Row():
                    json_file = gr.File(label="COCO results (JSON)", interactive=False)
                    png_file = gr.File(label="Overlay (PNG)", interactive=False)

        person = gr.Dropdown([], label="Person (for heatmaps, GC attention and attributions)", elem_id="person",
                             allow_custom_value=True)
        with gr.Tabs():
            with gr.Tab("HRNet vs HRGCNet"):
                gr.Markdown("Runs the other family (HRNet <-> HRGCNet, same width) on **the same boxes** and "
                            "measures per-keypoint disagreement: distance / sqrt(box area), and an OKS-like "
                            "similarity of the two predictions (box area as the scale), over the keypoints both "
                            "models score above the keypoint threshold.")
                compare_btn = gr.Button("Compare", elem_id="compare")
                with gr.Row():
                    left = gr.Image(label="HRNet", interactive=False, format="png")
                    right = gr.Image(label="HRGCNet", interactive=False, format="png")
                compare_summary = gr.Markdown()
                compare_plot = gr.Plot(label="Disagreement per keypoint")
                compare_table = gr.Dataframe(headers=handlers.COMPARE_COLUMNS,
                                             label="Disagreement per keypoint", interactive=False)
            with gr.Tab("Heatmaps"):
                gr.Markdown(handlers.HEATMAPS_NOTE)
                heatmap_plot = gr.Plot(label="Heatmaps of the chosen person (hover for values)")
                with gr.Row():
                    heatmap_crop = gr.Image(label="All keypoints merged, on the crop", interactive=False,
                                            elem_id="heatmap-crop")
                    heatmap_image = gr.Image(label="Merged heatmaps of the persons shown, on the image",
                                             interactive=False)
            with gr.Tab("GC attention"):
                block = gr.Dropdown([], label="GC block (stage . module . branch . block)", elem_id="block",
                                    allow_custom_value=True)
                with gr.Row():
                    attention_img = gr.Image(label="α on the crop", interactive=False, elem_id="attention-crop")
                    attention_plot = gr.Plot(label="α (hover for values)")
                attention_note = gr.Markdown(handlers.ATTENTION_NOTE)
            with gr.Tab("Attribution"):
                with gr.Row():
                    keypoint = gr.Dropdown(list(KEYPOINT_NAMES), value="left_wrist", label="Keypoint")
                    method = gr.Radio([("Integrated Gradients", ATTRIBUTION_METHODS[0]),
                                       ("Saliency", ATTRIBUTION_METHODS[1])], value=ATTRIBUTION_METHODS[0],
                                      label="Method")
                    n_steps = gr.Slider(2, 32, value=8, step=1, label="Integrated Gradients steps")
                attribute_btn = gr.Button("Explain this keypoint")
                with gr.Row():
                    attribution_img = gr.Image(label="Attribution on the crop", interactive=False)
                    attribution_text = gr.Markdown()
            with gr.Tab("Live webcam"):
                gr.Markdown("Streams webcam frames through the chosen model and detector (flip test as set "
                            f"above). The webcam sends at most {1 / streaming.STREAM_EVERY_S:.0f} frames/s; frames "
                            "that arrive while one is processed are skipped, not queued.")
                with gr.Row():
                    live_in = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Webcam",
                                       elem_id="live-input")
                    # JPEG: 1 ms to encode a 640x480 frame where Gradio's default WebP takes about 20 (measured)
                    live_out = gr.Image(label="Live keypoints", interactive=False, format="jpeg")
                live_track = gr.Checkbox(True, label="Smooth + track (track ids on the boxes)", elem_id="live-track")
                live_status = gr.Markdown(elem_id="live-status")
            with gr.Tab("Video"):
                gr.Markdown(video.INTRO)
                with gr.Row():
                    with gr.Column():
                        video_in = gr.Video(sources=["upload"], label="Video", elem_id="video-input", height=360)
                        with gr.Row():
                            video_frames = gr.Slider(1, state.VIDEO_MAX_FRAMES, value=state.VIDEO_DEFAULT_FRAMES,
                                                     step=1, label="Max frames (the first ones)")
                            video_every = gr.Slider(1, video.MAX_EVERY, value=1, step=1,
                                                    label="Detector every n frames (boxes from keypoints between)")
                        video_smooth = gr.Checkbox(True, label="Smooth keypoints (One-Euro)")
                        video_run = gr.Button("Estimate poses on the video", variant="primary", elem_id="video-run")
                    with gr.Column():
                        video_out = gr.Video(label="Poses", interactive=False, elem_id="video-output", height=360)
                        video_json = gr.File(label="Per-frame results (JSON: frame, time_s, track_id)",
                                             interactive=False, elem_id="video-json")
                        video_status = gr.Markdown(elem_id="video-status")
        gr.Markdown(LIMITS)

        # ---------------------------------------------------------------------------------- events
        settings = [model, input_size, detector, flip_test, boxes_text]
        display = [kpt_thr, box_thr, show_boxes, label]
        heat_out = [heatmap_plot, heatmap_crop, heatmap_image]
        att_out = [attention_img, attention_plot, attention_note]
        compare_out = [left, right, compare_table, compare_plot, compare_summary]

        model.change(handlers.model_card, [model], [card], api_name="model_card", queue=False)
        gr.on([model.change, input_size.change, detector.change, flip_test.change], handlers.settings_changed,
              [session, model, input_size, detector, flip_test], [timings], api_visibility="private", queue=False,
              show_progress="hidden")
        image.change(handlers.new_image, [pending_corner, boxes_text], [pending_corner, boxes_text, box_hint],
                     api_visibility="private", queue=False)
        image.select(handlers.add_box_corner, [pending_corner, boxes_text],
                     [pending_corner, boxes_text, box_hint, detector], api_visibility="private", queue=False)
        run.click(handlers.predict, [image, *settings, *display],
                  [overlay, persons, timings, notes, json_file, png_file, session, person, block],
                  api_name="predict", concurrency_id=INFERENCE, concurrency_limit=state.INFERENCE_CONCURRENCY
                  ).success(handlers.clear_compare, None, compare_out, api_name="clear_compare",
                            api_visibility="private", show_progress="hidden"
                  ).success(handlers.heatmaps_after_predict, [session, person, box_thr], heat_out,
                            api_name="heatmaps_after_predict", api_visibility="private", show_progress="hidden"
                  ).success(handlers.attention_after_predict, [session, person, block], att_out,
                            api_name="attention_after_predict", api_visibility="private", show_progress="hidden")
        gr.on([kpt_thr.release, box_thr.release, show_boxes.input, label.input], handlers.redraw,
              [session, *display], [overlay, persons, json_file, png_file, notes, heatmap_image], api_name="redraw",
              trigger_mode="always_last", concurrency_id="redraw", concurrency_limit=4, show_progress="hidden")
        gr.on([kpt_thr.release, box_thr.release], handlers.redraw_compare, [session, kpt_thr, box_thr],
              compare_out, api_name="redraw_compare",
              trigger_mode="always_last", concurrency_id="redraw", concurrency_limit=4, show_progress="hidden")
        compare_btn.click(handlers.compare, [image, session, kpt_thr, box_thr],
                          [*compare_out, session], api_name="compare",
                          concurrency_id=INFERENCE, concurrency_limit=state.INFERENCE_CONCURRENCY)
        person.input(handlers.heatmaps, [session, person, box_thr], heat_out, api_name="heatmaps",
                     concurrency_id="redraw", concurrency_limit=4)
        person.input(handlers.attention_after_predict, [session, person, block], att_out,
                     api_name="attention_of_person",
                     api_visibility="private",
                     concurrency_id="redraw", concurrency_limit=4)
        block.input(handlers.attention, [session, person, block], att_out, api_name="attention",
                    concurrency_id="redraw", concurrency_limit=4)
        attribute_btn.click(handlers.attribution, [session, person, keypoint, method, n_steps],
                            [attribution_img, attribution_text], api_name="attribution",
                            concurrency_id=INFERENCE, concurrency_limit=state.INFERENCE_CONCURRENCY)
        live_in.stream(handlers.live, [live_in, live_state, model, detector, input_size, flip_test, kpt_thr, box_thr],
                       [live_out, live_status, live_state], api_name="live", stream_every=streaming.STREAM_EVERY_S,
                       time_limit=state.LIVE_TIME_LIMIT_S, concurrency_id="live",
                       concurrency_limit=state.LIVE_SESSIONS, show_progress="hidden")
        live_track.change(handlers.live_tracking, [live_state, live_track], [live_state], api_visibility="private",
                          queue=False, show_progress="hidden")
        video_run.click(video.video, [video_in, model, input_size, detector, flip_test, kpt_thr, box_thr, video_frames,
                                      video_every, video_smooth], [video_out, video_json, video_status],
                        api_name="video", concurrency_id="video", concurrency_limit=1)
    return demo


def launch(demo: gr.Blocks, host: str = "127.0.0.1", port: int | None = 7860, block: bool = False,
           **kwargs) -> tuple:
    """Queue and launch ``demo`` with the app's limits; ``block=False`` returns at once (tests).

    Extra ``kwargs`` go to ``gr.Blocks.launch``.
    """
    state.limit_malloc_arenas()
    demo.queue(default_concurrency_limit=state.INFERENCE_CONCURRENCY, max_size=state.QUEUE_MAX_SIZE)
    options = dict(server_name=host, server_port=port, max_file_size=state.MAX_UPLOAD_BYTES,
                   prevent_thread_lock=not block, share=False, show_error=True, ssr_mode=False, enable_monitoring=False,
                   allowed_paths=[str(ASSETS_DIR)], theme=THEME, css=CSS, state_session_capacity=64,
                   footer_links=["api", "settings"])
    options.update(kwargs)
    return demo.launch(**options)
