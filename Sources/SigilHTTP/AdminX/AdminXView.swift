import Foundation

/// One AdminX page for `adminx.mustache`: the portal's chrome (tenant, who is signed in, the
/// sections) and the page's blocks. Pages are built from these few parts — facts with copy
/// buttons, tables with pagination, forms with their errors next to each field, links and
/// buttons — so every page behaves the same for keyboards and screen readers.
///
/// Only stored properties: the template reads values by reflection.
struct AdminXView: PageView {
    let base: String
    /// The CSRF token of the signed-in session, for every POST form on the page.
    let csrf: String
    let title: String
    let tenantName: String
    let userEmail: String
    let isGlobal: Bool
    let nav: [AdminXNav]
    let signOutAction: String
    let signOutCSRF: String
    var breadcrumbs: [AdminXLink] = []
    var hasBreadcrumbs: Bool = false
    var intro: String? = nil
    var flash: String? = nil
    var problem: AdminXProblem? = nil
    var blocks: [AdminXBlock] = []
}

struct AdminXNav {
    let navLabel: String
    let navHref: String
    let navCurrent: Bool
}

struct AdminXLink {
    let linkLabel: String
    let linkHref: String
    var linkID: String? = nil
    var linkText: String? = nil
    var linkPrimary: Bool = false

    init(_ label: String, _ href: String, id: String? = nil, text: String? = nil, primary: Bool = false) {
        linkLabel = label; linkHref = href; linkID = id; linkText = text; linkPrimary = primary
    }
}

/// The error summary at the top of a page: the API's problem, and a link to each field it names.
struct AdminXProblem {
    let problemTitle: String
    let problemDetail: String?
    let problemLinks: [AdminXLink]
    let hasProblemLinks: Bool

    init(title: String, detail: String?, links: [AdminXLink] = []) {
        problemTitle = title; problemDetail = detail; problemLinks = links; hasProblemLinks = !links.isEmpty
    }
}

struct AdminXBlock {
    let blockID: String
    var heading: String? = nil
    var paragraphs: [String] = []
    var fields: [AdminXField] = [] { didSet { hasFields = !fields.isEmpty } }
    var hasFields: Bool = false
    /// A value shown once (a client secret): styled as a callout.
    var blockSecret: Bool = false
    var blockDanger: Bool = false
    var table: AdminXTable? = nil
    var form: AdminXForm? = nil
    var links: [AdminXLink] = [] { didSet { hasLinks = !links.isEmpty } }
    var hasLinks: Bool = false
    var buttons: [AdminXButton] = [] { didSet { hasButtons = !buttons.isEmpty } }
    var hasButtons: Bool = false

    init(
        _ id: String, heading: String? = nil, paragraphs: [String] = [], fields: [AdminXField] = [], secret: Bool = false,
        danger: Bool = false, table: AdminXTable? = nil, form: AdminXForm? = nil, links: [AdminXLink] = [], buttons: [AdminXButton] = []
    ) {
        blockID = id; self.heading = heading; self.paragraphs = paragraphs; self.fields = fields; hasFields = !fields.isEmpty
        blockSecret = secret; blockDanger = danger; self.table = table; self.form = form
        self.links = links; hasLinks = !links.isEmpty; self.buttons = buttons; hasButtons = !buttons.isEmpty
    }
}

/// A labelled value; `copy` adds a Copy button (adminx.js), `href` makes it a link.
struct AdminXField {
    let fieldID: String
    let fieldLabel: String
    let fieldValue: String
    var fieldCopy: Bool = false
    var fieldMono: Bool = true
    var fieldHref: String? = nil
    var fieldDownload: String? = nil
    var fieldHint: String? = nil

    init(
        _ id: String, _ label: String, _ value: String, copy: Bool = false, mono: Bool = true, href: String? = nil, download: String? = nil, hint: String? = nil
    ) {
        fieldID = id; fieldLabel = label; fieldValue = value; fieldCopy = copy; fieldMono = mono; fieldHref = href
        fieldDownload = download; fieldHint = hint
    }
}

struct AdminXTable {
    let tableID: String
    let caption: String
    let columns: [String]
    let rows: [AdminXRow]
    let hasRows: Bool
    let empty: String
    let first: String?
    let next: String?
    let hasPager: Bool

    init(_ id: String, caption: String, columns: [String], rows: [AdminXRow], empty: String, first: String? = nil, next: String? = nil) {
        tableID = id; self.caption = caption; self.columns = columns; self.rows = rows; hasRows = !rows.isEmpty
        self.empty = empty; self.first = first; self.next = next; hasPager = first != nil || next != nil
    }
}

struct AdminXRow {
    let cells: [AdminXCell]
}

struct AdminXCell {
    let cellText: String
    var cellHref: String? = nil
    var cellMono: Bool = false
    /// A status word styled as a badge: the CSS class (`ok`, `warn`, `bad`).
    var cellBadge: String? = nil
    var cellHeader: Bool = false

    init(_ text: String, href: String? = nil, mono: Bool = false, badge: String? = nil, header: Bool = false) {
        cellText = text; cellHref = href; cellMono = mono; cellBadge = badge; cellHeader = header
    }
}

struct AdminXForm {
    let formID: String
    let formAction: String
    let formMethod: String
    let formPost: Bool
    let formSubmit: String
    var formDanger: Bool = false
    var formCancel: String? = nil
    var inputs: [AdminXInput]

    init(_ id: String, action: String, submit: String, get: Bool = false, danger: Bool = false, cancel: String? = nil, inputs: [AdminXInput]) {
        formID = id; formAction = action; formMethod = get ? "get" : "post"; formPost = !get; formSubmit = submit
        formDanger = danger; formCancel = cancel; self.inputs = inputs
    }
}

struct AdminXOption {
    let optionID: String
    let optionName: String
    let optionValue: String
    let optionLabel: String
    let optionType: String
    var optionSelected: Bool
    var optionHint: String? = nil
}

/// One form control with its label, hint and error (`aria-describedby` names both).
struct AdminXInput {
    /// `fileInto`: a file picker that fills the textarea named by its id (adminx.js reads the file in
    /// the browser); it has no name, so the form never sends the file itself.
    enum Kind { case text(String), textarea(rows: Int), select, checkboxes, radios, checkbox, hidden, fileInto(String) }

    let inputID: String
    let inputName: String
    let inputLabel: String
    var inputValue: String
    var inputHint: String?
    var inputError: String?
    var inputRequired: Bool
    var inputType: String = "text"
    /// `off` for text inputs, `new-password` for a partner's secret (so no saved password is filled in);
    /// none where the value would not be valid for the type.
    var inputAutocomplete: String? = nil
    var inputRows: Int = 4
    var isText = false, isTextarea = false, isSelect = false, isChoices = false, isHidden = false
    var fillTarget: String? = nil
    var options: [AdminXOption] = []
    var inputDescribedBy: String? = nil

    /// `choices`: (value, label, hint) for selects, radios and checkbox groups; `selected` the chosen values.
    init(
        _ kind: Kind, name: String, label: String, value: String = "", hint: String? = nil, required: Bool = false,
        choices: [(value: String, label: String, hint: String?)] = [], selected: Set<String> = []
    ) {
        inputID = "f-" + name.replacingOccurrences(of: ".", with: "-")
        inputName = name; inputLabel = label; inputValue = value; inputHint = hint; inputRequired = required
        switch kind {
        case .text(let type):
            isText = true
            inputType = type
            inputAutocomplete = type == "text" ? "off" : type == "password" ? "new-password" : nil
        case .textarea(let rows): isTextarea = true; inputRows = rows
        case .select: isSelect = true
        case .checkboxes, .radios, .checkbox: isChoices = true
        case .hidden: isHidden = true
        case .fileInto(let target): fillTarget = target
        }
        let id = inputID
        options = choices.enumerated().map { index, choice in
            switch kind {
            case .checkboxes:
                AdminXOption(
                    optionID: "\(id)-\(index)", optionName: "\(name).\(choice.value)", optionValue: "on", optionLabel: choice.label,
                    optionType: "checkbox", optionSelected: selected.contains(choice.value), optionHint: choice.hint)
            case .checkbox:
                AdminXOption(
                    optionID: "\(id)-\(index)", optionName: name, optionValue: "on", optionLabel: choice.label,
                    optionType: "checkbox", optionSelected: selected.contains(choice.value), optionHint: choice.hint)
            default:
                AdminXOption(
                    optionID: "\(id)-\(index)", optionName: name, optionValue: choice.value, optionLabel: choice.label,
                    optionType: "radio", optionSelected: selected.contains(choice.value), optionHint: choice.hint)
            }
        }
        describe()
    }

    mutating func describe() {
        let ids = [inputHint.map { _ in "\(inputID)-hint" }, inputError.map { _ in "\(inputID)-error" }].compactMap { $0 }
        inputDescribedBy = ids.isEmpty ? nil : ids.joined(separator: " ")
    }
}

extension [AdminXInput] {
    /// Puts each field error next to its control (by API field name), and returns the errors no
    /// control shows.
    mutating func place(_ errors: [(field: String, message: String)]) -> [(field: String, message: String)] {
        var unplaced: [(field: String, message: String)] = []
        for error in errors {
            let root = error.field.split(whereSeparator: { $0 == "." || $0 == "[" }).first.map { String($0) } ?? error.field
            if let index = firstIndex(where: { $0.inputName == error.field || $0.inputName == root || $0.inputName.hasPrefix(root + ".") }) {
                self[index].inputError = [self[index].inputError, error.message].compactMap { $0 }.joined(separator: "; ")
                self[index].describe()
            } else {
                unplaced.append(error)
            }
        }
        return unplaced
    }
}

struct AdminXButton {
    let buttonID: String
    let buttonAction: String
    let buttonLabel: String
    var buttonDanger: Bool = false
}
