"""Dataflow strategies (WS, OS, IS, RS) behind one interface, chosen by the `Dataflow` enum.
The registry is a plain dict built here explicitly; nothing registers itself at import time.
"""
from dataflows.base import ArrayShape, DataflowModel, Dataflow, Dims, FoldPlan, Operand, ceil_div
from dataflows.input_stationary import InputStationary
from dataflows.output_stationary import OutputStationary
from dataflows.row_stationary import RowStationary
from dataflows.weight_stationary import WeightStationary

REGISTRY: dict[Dataflow, DataflowModel] = {
    Dataflow.WS: WeightStationary(),
    Dataflow.OS: OutputStationary(),
    Dataflow.IS: InputStationary(),
    Dataflow.RS: RowStationary(),
}


def get(dataflow: Dataflow | str) -> DataflowModel:
    """The strategy for `dataflow` (an enum member or its value, e.g. "ws")."""
    return REGISTRY[Dataflow(dataflow)]


def plan(dataflow: Dataflow | str, dims: Dims, array: ArrayShape) -> FoldPlan:
    """Fold plan of every layer in `dims` under one dataflow."""
    return get(dataflow).plan(dims, array)


__all__ = ["ArrayShape", "DataflowModel", "Dataflow", "Dims", "FoldPlan", "Operand", "REGISTRY",
           "ceil_div", "get", "plan", "InputStationary", "OutputStationary", "RowStationary",
           "WeightStationary"]
