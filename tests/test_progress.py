import nbformat
from nbclient import NotebookClient

from worldmodels.progress import progress_bar


def test_outside_a_notebook_it_is_a_plain_iterable():
    seen = [i for i in progress_bar(range(5), desc="x", disable=True)]
    assert seen == [0, 1, 2, 3, 4]


def test_in_a_notebook_a_finished_bar_leaves_one_static_line_and_no_widget():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from worldmodels.progress import progress_bar\n"
        "bar = progress_bar(range(7), desc='training')\n"
        "for i in bar:\n"
        "    bar.set_postfix(loss=f'{i:.1f}')\n"
    ), nbformat.v4.new_code_cell(
        "from ipywidgets.widgets.widget import _instances\n"
        "print(len(_instances), 'widgets alive')"
    )]
    NotebookClient(nb, kernel_name="python3", store_widget_state=False, timeout=60).execute()
    outputs = nb.cells[0].outputs
    assert [o["data"] for o in outputs] == [{"text/plain": "training: 7/7 steps · loss 6.0"}]
    assert nb.cells[1].outputs[0]["text"] == "0 widgets alive\n", "the closed bar left widgets in the kernel"
