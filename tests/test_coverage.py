"""Named-term coverage: abstain when the evidence never mentions what the question names."""

from __future__ import annotations

from app.engine.coverage import covers_enough, missing_terms, named_terms


def _labels(question):
    return [t.label for t in named_terms(question)]


def test_named_terms_from_vocabulary_and_codes():
    assert _labels("inotuzumab ozogamicin after CAR T relapse") == [
        "inotuzumab ozogamicin",
        "CAR T",
    ]
    assert _labels("InO in Ph+ ALL with KMT2A-rearranged disease and ICANS") == [
        "InO",
        "Ph+",
        "ALL",
        "KMT2A",
        "ICANS",
    ]
    assert "CD22" in _labels("CD22 CAR T cells after CD19 failure")
    assert _labels("What diet is best for gout?") == []
    assert _labels("all patients relapsed") == []


def test_synonyms_count_as_mentions():
    evidence = ["Blinatumomab, a bispecific T-cell engager, induced remission."]
    assert missing_terms("blina in relapsed B-ALL", evidence) == ["B-ALL"]
    assert missing_terms("Does blina work?", evidence) == []
    assert missing_terms("What about BiTE therapy?", evidence) == []


def test_codes_must_appear_literally():
    evidence = ["CD19-directed CAR T cells (chimeric antigen receptor) in children."]
    assert missing_terms("CD22 CAR T after CD19 CAR", evidence) == ["CD22"]
    assert missing_terms("CD19 CAR T", evidence) == []


def test_an_interrupted_long_form_still_counts():
    evidence = ["CD19-directed chimeric antigen receptor (CAR) T cells (CD19-CAR) failed."]
    assert missing_terms("relapse after CAR T", evidence) == []
    assert missing_terms("relapse after CAR T", ["Antigen receptor signalling in T cells."]) == [
        "CAR T"
    ]


def test_a_term_is_missing_from_the_library_only_when_no_indexed_passage_has_it():
    from app.engine.coverage import missing_in_library
    from app.engine.query import analyse

    question = analyse("Does tocilizumab help for CRS after inotuzumab ozogamicin?")
    vocabulary = {"tocilizumab": 2.0, "cytokin": 1.0, "releas": 1.0, "syndrom": 1.0}
    labels = [t.label for t in question.named]
    # CRS is in the library through its long form; tocilizumab literally; inotuzumab nowhere.
    assert missing_in_library(labels, question, vocabulary) == ["inotuzumab ozogamicin"]


def test_a_formula_is_a_named_term_looked_up_as_written():
    from app.engine.coverage import missing_in_library
    from app.engine.query import analyse

    assert _labels("Is $x^2$ related to CD19 CAR T relapse?") == ["$x^2$", "CAR T", "CD19"]
    assert _labels("Is x^2 related to relapse?") == ["x^2"]
    assert _labels("Platelets below 50 x 10^9/L before CAR T?") == ["CAR T"]  # a count
    assert _labels("Does it cost $5 or $10?") == []  # prices, not TeX
    evidence = ["CD19-directed CAR T cells relapse; the rate rose as x^2 of dose."]
    assert missing_terms("Is $x^2$ related to CD19 CAR T relapse?", evidence) == ["$x^2$"]
    assert missing_terms("Is x^2 related to CD19 CAR T relapse?", evidence) == []
    # in the library: a formula has no words to look up, so the stored texts are searched
    question = analyse("Is $x^2$ related to CD19 CAR T relapse?")
    vocabulary = {"cd19": 1.0, "relaps": 1.0}
    assert missing_in_library(["$x^2$"], question, vocabulary, lambda _: False) == ["$x^2$"]
    assert missing_in_library(["$x^2$"], question, vocabulary, lambda _: True) == []


def test_drug_names_by_their_stems():
    from app.engine.coverage import is_drug_name

    assert is_drug_name("idecabtagene vicleucel") and is_drug_name("glofitamab")
    assert is_drug_name("dasatinib") and not is_drug_name("CAR T") and not is_drug_name("CD19")
    # stems of kinase, HDAC and mTOR inhibitors, G-CSFs, antisense drugs, azole antifungals
    for drug in ("midostaurin", "vorinostat", "sirolimus", "filgrastim", "inotersen",
                 "posaconazole", "bendamustine", "anakinra"):  # fmt: skip
        assert is_drug_name(drug), drug
    for word in ("constant", "statin", "imidazole", "kinase"):
        assert not is_drug_name(word), word


def test_a_term_is_said_to_be_mentioned_only_when_written_somewhere():
    from app.engine.coverage import missing_in_library, written_in_library

    question = "IVIG for low antibody levels after CAR T?"
    assert [t.label for t in named_terms(question)][:1] == ["IVIG"]
    # every word of "intravenous immunoglobulin" is indexed, so the word lookup finds it ...
    vocabulary = {"intraven": 1.0, "immunoglobulin": 1.0}
    assert missing_in_library(["IVIG"], question, vocabulary) == []
    # ... but only a text that holds one of its forms makes it "mentioned"
    scattered = "Intravenous cytarabine was given. Serum immunoglobulin levels fell."
    assert written_in_library(["IVIG"], question, lambda f: f.lower() in scattered.lower()) == []
    written = "Patients received intravenous immunoglobulin monthly."
    assert written_in_library(["IVIG"], question, lambda f: f.lower() in written.lower()) == [
        "IVIG"
    ]


def test_specialized_words_no_passage_has_are_found_by_their_pieces():
    from app.engine.coverage import specialized_absent
    from index.lexical import tokenize

    pieces = {"haploidentical": 5, "pyostomatitis": 6, "transplantation": 1, "durability": 3}
    library = {t: 1.0 for t in tokenize("transplantation outcomes in children")}
    question = "Does haploidentical transplantation or pyostomatitis affect durability in ALL?"
    found = specialized_absent(question, library, lambda w: pieces.get(w, 1))
    assert found == ["haploidentical", "pyostomatitis"]  # durability: 3 pieces, a plain word
    assert specialized_absent(question, library, lambda w: 9, min_pieces=0) == []  # off
    library.update({t: 1.0 for t in tokenize("haploidentical donors")})
    assert specialized_absent(question, library, lambda w: pieces.get(w, 1)) == ["pyostomatitis"]
    # Acronyms and codes are named terms' business; short words are never specialized.
    assert specialized_absent("Is KMT2Ar or HLA-DRB1 in ALL?", {}, lambda w: 9) == []
    assert specialized_absent("Is Milvexian an ALL drug?", {}, lambda w: 9) == ["Milvexian"]
    # a word the library spells the British (or American) way is no new word
    library = {t: 1.0 for t in tokenize("IgG hypogammaglobulinaemia and oesophagitis")}
    asked = "Is hypogammaglobulinemia or esophagitis or leukoencephalopathy seen after CAR T?"
    assert specialized_absent(asked, library, lambda w: 9) == ["leukoencephalopathy"]
    library = {t: 1.0 for t in tokenize("pediatric hematologic malignancy")}
    assert (
        specialized_absent("Do paediatric haematologic cancers relapse?", library, lambda w: 9)
        == []
    )
    # a prefix joined to a word the library writes hyphenated is no new word
    library = {t: 1.0 for t in tokenize("its anti-lymphoma effect after a post-transplant relapse")}
    question = "What is the antilymphoma effect of posttransplant antihaploidentical cells?"
    assert specialized_absent(question, library, lambda w: 9) == ["antihaploidentical"]


def test_the_bundled_tokenizer_splits_specialized_words_into_many_pieces():
    from index.model import wordpiece_counter

    pieces = wordpiece_counter()
    assert pieces("haploidentical") >= 4 and pieces("pyostomatitis") >= 4
    assert pieces("transplantation") < 4 and pieces("cholesterol") < 4
    assert pieces("leukemia") == 1  # no padding or special tokens counted


def test_an_eponym_is_named_by_its_pair_of_words_and_looked_up_as_written():
    from app.engine.coverage import missing_in_library
    from app.engine.query import analyse

    question = "How do children with Down syndrome ALL fare after CAR T?"
    assert _labels(question) == ["ALL", "CAR T", "Down syndrome"]
    assert _labels("Which gene is mutated in Li-Fraumeni syndrome?") == ["Li-Fraumeni syndrome"]
    assert _labels("Is Hodgkin's lymphoma curable?") == ["Hodgkin lymphoma"]  # possessive dropped
    assert _labels("Down syndrome and leukemia?") == []  # a capital that starts the question
    assert _labels("Is CADM1 raised in Myelodysplastic syndrome?") == ["CADM1"]  # an adjective
    assert _labels("Outcomes of Acute Lymphoblastic Leukemia") == ["acute lymphoblastic leukemia"]
    # each word alone is common: only the pair mentions it, with or without the possessive
    assert missing_terms(question, ["Down's syndrome patients with ALL had CAR T"]) == []
    assert missing_terms(question, ["ALL in Down-syndrome after CAR T"]) == []
    assert missing_terms(question, ["ALL relapse after CAR T went down; a syndrome"]) == [
        "Down syndrome"
    ]
    assert missing_terms(question, ["Downregulation of CD19 in ALL after CAR T"]) == [
        "Down syndrome"
    ]
    # the name alone, as a name, mentions it ("Alzheimer's ... AD")
    alzheimer = "Is minocycline effective in Alzheimer disease?"
    assert missing_terms(alzheimer, ["Minocycline in Alzheimer\u2019s: AD patients"]) == []
    # a slip in a long name is forgiven, not in a short one
    misspelt = "What is the genetic cause of Freidreich's ataxia?"
    assert missing_terms(misspelt, ["Friedreich's ataxia is caused by GAA repeats"]) == []
    assert missing_terms("Are children with Dawn syndrome at risk?", ["Down syndrome"]) == [
        "Dawn syndrome"
    ]
    # in the library: both words are indexed, so the stored texts are searched for the pair
    query, vocabulary = analyse(question), {"down": 1.0, "syndrom": 1.0}
    texts = ["CAR T counts went down", "cytokine release syndrome"]
    scan = lambda form: any(form.lower() in t.lower() for t in texts)  # noqa: E731
    assert missing_in_library(["Down syndrome"], query, vocabulary, scan) == ["Down syndrome"]
    texts.append("children with Down's syndrome")
    assert missing_in_library(["Down syndrome"], query, vocabulary, scan) == []


def test_a_code_is_mentioned_however_its_letters_and_digits_are_joined():
    from app.engine.coverage import missing_in_library, written_in_library
    from app.engine.query import analyse

    question = "Does IL6 rise in CRS after CAR T?"
    assert "IL6" in _labels(question)
    evidence = ["IL-6 rises in CRS after CAR T"]
    assert missing_terms(question, evidence) == []
    assert (
        missing_terms("Does IL-6 rise in CRS after CAR T?", ["IL6 rises in CRS after CAR T"]) == []
    )
    assert missing_terms(question, ["IL-6R rises in CRS after CAR T"]) == ["IL6"]  # another code
    # in the library: the hyphenated spelling's tokens and the written form count
    query = analyse(question)
    assert missing_in_library(["IL6"], query, {"il": 1.0, "6": 1.0}) == []
    assert missing_in_library(["IL6"], query, {"crs": 1.0}) == ["IL6"]
    scan = lambda form: form.lower() in evidence[0].lower()  # noqa: E731
    assert written_in_library(["IL6"], query, scan) == ["IL6"]
    # with the stored texts at hand, a code is looked up as written in any of its spellings:
    # a "22" and a "cd" somewhere do not make "CD-22" present
    assert missing_in_library(["IL6"], query, {}, scan) == []
    cd22 = analyse("Does CD22 CAR T work after CD19-negative relapse?")
    words = {"cd": 1.0, "22": 1.0, "cd19": 1.0}
    texts = "CD19 CAR T cells; 22 patients"
    in_texts = lambda form: form.lower() in texts.lower()  # noqa: E731
    assert missing_in_library(["CD22"], cd22, words, in_texts) == ["CD22"]
    assert missing_in_library(["CD19"], cd22, words, in_texts) == []


def test_a_passage_may_leave_out_only_a_general_concept_of_a_long_question():
    q = "What is the complete remission rate with blinatumomab in relapsed or refractory B-ALL?"
    tisa = "Tisagenlecleucel produced complete remission in relapsed or refractory B-ALL."
    blina = "Blinatumomab gave complete remission in relapsed B-ALL."
    assert missing_terms(q, [tisa]) == ["blinatumomab"]
    assert not covers_enough(missing_terms(q, [tisa]), q)  # a drug is never left out
    assert covers_enough(missing_terms(q, [blina]), q)  # "relapsed or refractory" may be
    cd22 = "Does CD22 CAR T work after CD19-negative relapse in B-ALL?"
    assert not covers_enough(["CD22"], cd22)  # nor a code
    assert covers_enough(["B-ALL"], cd22)
    assert not covers_enough(["CAR T", "B-ALL"], cd22)  # only one
    assert not covers_enough(["ALL"], "Dasatinib in ALL?")  # two named: both needed
    assert covers_enough([], "Dasatinib in ALL?")
