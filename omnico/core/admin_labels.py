"""Inputs the admin draws in a table have no ``<label>``: the editable columns of a change list
(``list_editable``) and the rows of a tabular inline. Screen readers then announce a bare
"edit text" and axe reports them as critical (``label``). ``TableInputsLabelledMixin`` names
each such input after its column with ``aria-label``; forms with real labels are left alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms

if TYPE_CHECKING:  # mixed into a ModelAdmin or an InlineModelAdmin
    from django.contrib.admin.options import BaseModelAdmin

    _AdminBase = BaseModelAdmin[Any]
else:
    _AdminBase = object


def form_with_aria_labels(form_class: type[forms.BaseForm]) -> type[forms.BaseForm]:
    """``form_class`` whose every labelled field's widget also carries ``aria-label``."""

    def __init__(self: forms.BaseForm, *args: Any, **kwargs: Any) -> None:
        form_class.__init__(self, *args, **kwargs)
        for field in self.fields.values():
            if field.label and not field.widget.is_hidden:
                field.widget.attrs.setdefault("aria-label", str(field.label))

    return type(form_class.__name__, (form_class,), {"__init__": __init__})


class TableInputsLabelledMixin(_AdminBase):
    """For a ModelAdmin with ``list_editable`` or a TabularInline."""

    def get_changelist_form(self, request: Any, **kwargs: Any) -> Any:
        form = super().get_changelist_form(request, **kwargs)  # type: ignore[misc]
        return form_with_aria_labels(form)

    def get_formset(self, request: Any, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)  # type: ignore[misc]
        formset.form = form_with_aria_labels(formset.form)
        return formset
