"""The table rows of an HTML report (`faultline sweep --html`), read with
Python's own parser, so tests assert what a reader sees, not the markup."""
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Cell:
    text: str = ""                              # its text, a line per <br>
    items: list = field(default_factory=list)   # the text of each <li>
    links: list = field(default_factory=list)   # the href of each <a>


@dataclass
class Row:
    attrs: dict
    cells: list = field(default_factory=list)


class _Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self.cell, self.item = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append(Row(dict(attrs)))
        elif tag in ("td", "th"):
            self.cell = Cell()
            self.rows[-1].cells.append(self.cell)
        elif self.cell is None:
            return
        elif tag == "br":
            self.cell.text += "\n"
        elif tag == "li":
            self.item = ""
        elif tag == "a":
            self.cell.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.cell = None
        elif tag == "li" and self.cell is not None:
            self.cell.items.append(self.item)
            self.item = None

    def handle_data(self, data):
        if self.item is not None:
            self.item += data
        elif self.cell is not None:
            self.cell.text += data


def html_rows(text):
    """Every <tr> of the document, in order."""
    parser = _Rows()
    parser.feed(text)
    parser.close()
    return parser.rows


def grid_cells(text):
    """The sweep table's cells by (instruction address, event): the header
    row names the events, each instruction row starts with its address."""
    rows = html_rows(text)
    header = next(r for r in rows if [c.text for c in r.cells[:2]] == ["address", "instruction"])
    events = [c.text for c in header.cells[2:]]
    grid = {}
    for row in rows:
        if len(row.cells) == len(events) + 2 and row.cells[0].text.startswith("0x"):
            for event, cell in zip(events, row.cells[2:]):
                grid[(int(row.cells[0].text, 16), event)] = cell
    return grid
