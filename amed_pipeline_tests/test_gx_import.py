"""Scope: importing Great Expectations without `scipy.stats`, `altair`, `jsonschema` and `mistune` (`quality/gx.py`).

A stand-in imports the real module the first time any of its attributes is read, and leaves
`sys.modules` once GX is imported; GX imported this way validates as before (the suites' own
tests run through it) and its statistical expectations still reach the real scipy.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from amed_pipeline.quality.gx import _ImportedOnUse, _stand_ins


def test_a_stand_in_imports_the_real_module_on_first_use(monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    with _stand_ins(("colorsys",)):
        import colorsys as stand_in

        assert isinstance(stand_in, _ImportedOnUse)
        assert isinstance(sys.modules["colorsys"], _ImportedOnUse)
        assert stand_in.rgb_to_hsv(1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)  # imports the real one
        assert not isinstance(sys.modules["colorsys"], _ImportedOnUse)
    import colorsys

    assert stand_in.hsv_to_rgb is colorsys.hsv_to_rgb


def test_stand_ins_leave_sys_modules_and_an_imported_module_is_left_alone(monkeypatch):
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    import json

    with _stand_ins(("colorsys", "json")):
        assert isinstance(sys.modules["colorsys"], _ImportedOnUse)
        assert sys.modules["json"] is json
    assert "colorsys" not in sys.modules
    assert sys.modules["json"] is json


def test_great_expectations_imports_without_scipy_stats_and_still_reaches_it():
    script = textwrap.dedent(
        """
        import sys
        import pandas as pd
        from amed_pipeline.quality.gx import great_expectations
        gx = great_expectations()
        assert "scipy.stats" not in sys.modules and "altair" not in sys.modules, "imported eagerly"
        assert not any(type(m).__name__ == "_ImportedOnUse" for m in sys.modules.values())
        context = gx.get_context(mode="ephemeral")
        batch = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
        frame = pd.DataFrame({"x": [1.0, 2.0, 2.0, 3.0]})
        result = batch.get_batch(batch_parameters={"dataframe": frame}).validate(
            gx.expectations.ExpectColumnKLDivergenceToBeLessThan(
                column="x", partition_object={"bins": [0, 2, 4], "weights": [0.25, 0.75]}, threshold=0.6
            )
        )
        assert result.success, result
        assert "scipy.stats" in sys.modules and "altair" not in sys.modules
        print("ok")
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().endswith("ok")


def test_jsonschema_and_mistune_are_imported_only_when_gx_uses_them():
    script = textwrap.dedent(
        """
        import sys
        import pandas as pd
        from amed_pipeline.quality.gx import great_expectations
        gx = great_expectations()
        assert "jsonschema" not in sys.modules and "mistune" not in sys.modules, "imported eagerly"
        context = gx.get_context(mode="ephemeral")
        batch = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
        frame = pd.DataFrame({"x": ['{"a": 1}', '{"a": "text"}']})
        result = batch.get_batch(batch_parameters={"dataframe": frame}).validate(
            gx.expectations.ExpectColumnValuesToMatchJsonSchema(
                column="x", json_schema={"type": "object", "properties": {"a": {"type": "integer"}}}
            ),
            result_format={"result_format": "COMPLETE"},
        )
        assert not result.success and result.result["unexpected_index_list"] == [1], result
        assert "jsonschema" in sys.modules
        from great_expectations.render.view import view
        assert view.mistune.markdown("*a*").strip() == "<p><em>a</em></p>"
        assert "mistune" in sys.modules
        print("ok")
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.strip().endswith("ok")
