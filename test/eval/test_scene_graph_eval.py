"""Room evaluation on hand-built scene graphs: count, assignment, and precision / recall by overlap."""

import pytest

from m2h_ros.eval.scene_graph import evaluate_rooms
from m2h_ros.scene_graph.graph import CONTAINS, PLACES, ROOMS, Node, SceneGraph, node_id

# Two ground-truth rooms side by side: A = [0, 4] × [0, 3], B = [4, 8] × [0, 3].
TRUTH = {"rooms": [{"id": 1, "polygon": [[0, 0], [4, 0], [4, 3], [0, 3]]},
                   {"id": 2, "polygon": [[4, 0], [8, 0], [8, 3], [4, 3]]}]}  # fmt: skip


def graph_with(rooms: list[list[float]], unassigned: list[float] = ()) -> SceneGraph:
    """Places on the line y = 1.5 at the given x, grouped into estimated rooms; ``unassigned``: places in none."""
    g, i = SceneGraph(), 0
    for r, xs in enumerate(rooms):
        room = g.add(Node(node_id(ROOMS, r), ROOMS, [0.0, 0.0, 0.0]))
        for x in xs:
            place = g.add(Node(node_id(PLACES, i), PLACES, [x, 1.5, 0.0]))
            g.connect(room.id, place.id, CONTAINS)
            i += 1
    for x in unassigned:
        g.add(Node(node_id(PLACES, i), PLACES, [x, 1.5, 0.0]))
        i += 1
    return g


def test_rooms_that_match_the_truth_score_full_precision_and_recall():
    rooms = evaluate_rooms(graph_with([[0.5, 1.5, 2.5, 3.5], [4.5, 5.5, 6.5, 7.5]]), TRUTH)
    assert rooms["count_correct"] and rooms["precision"] == rooms["recall"] == 1.0


def test_one_room_over_both_truths_is_half_precise_and_one_room_split_in_two_halves_recall():
    merged = evaluate_rooms(graph_with([[0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]]), TRUTH)
    assert merged["precision"] == 0.5 and merged["recall"] == 1.0 and not merged["count_correct"]
    split = evaluate_rooms(graph_with([[0.5, 1.5], [2.5, 3.5], [4.5, 5.5, 6.5, 7.5]]), TRUTH)
    assert split["precision"] == 1.0 and split["recall"] == pytest.approx((0.5 + 1.0) / 2)


def test_places_left_out_of_every_room_lower_the_recall_and_unvisited_rooms_are_not_scored():
    rooms = evaluate_rooms(graph_with([[0.5, 1.5, 2.5]], unassigned=[3.5]), TRUTH, visited={1})
    assert rooms["ground_truth"] == 1 and rooms["precision"] == 1.0 and rooms["recall"] == 0.75
    empty = evaluate_rooms(SceneGraph(), TRUTH)
    assert empty["precision"] == empty["recall"] == 0.0
